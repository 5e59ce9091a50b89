/// Where a network stores each node's values and gradients (shapes only; the
/// `Network` allocates). Most nodes own a buffer. A node feeding a `Concat` is
/// placed inside the concatenation's buffer, as a channel slice, when that is
/// safe: it is not the model output, it feeds that concat once, its producer
/// writes strided output, and every other reader reads strided input (or is
/// a multi-input layer, whose ports carry strides). Concats are resolved from
/// the last to the first, so chains of concats (DenseNet) nest into one buffer:
/// when concat c is resolved, its own place (owner, offset) is already final.
struct StoragePlan {
    /// The node whose buffers hold node i.
    var owner: [Int]
    /// Floats from the start of a sample of the owner's tensor to node i's.
    var offset: [Int]
    /// Floats between consecutive samples of node i.
    var sampleStride: [Int]
    /// The concat node i is stored inside, if any.
    var inPlaceIn: [Int?]
    /// Nodes that never run: identities (a shortcut that neither subsamples
    /// nor pads) and fused relus. Node i is stored as its input, so that its
    /// readers read the input and add their gradients straight into the
    /// input's (every backward accumulates).
    var skipped: [Bool]
    /// Layers that rectify their own output: a `relu` that is their
    /// output's only reader is fused into them (`ReLUFusable`), and the relu
    /// node, stored as theirs, is `skipped`.
    var rectifies: [Bool]
    /// Inference-only networks (`foldNorms`): `foldedNorm[j]` is the batch
    /// norm that is convolution j's only reader, applied by j as it stores
    /// its outputs (`Conv2D.foldedNorm`); the norm node is `skipped`, stored
    /// as j, and a relu fused into the norm moves to j (`rectifies`).
    var foldedNorm: [Int?]
    /// Inference-only networks: `foldedResidual[j]` is the other input of
    /// the two-input `add` that convolution j's output (or its folded norm's)
    /// is the only reader of, added by j as it stores its outputs
    /// (`Conv2D.foldedResidual`); the add node is `skipped`, stored as j,
    /// and a relu fused into the add moves to j (applied after the sum).
    /// Only where that input's values are complete before j runs.
    var foldedResidual: [Int?]
    /// Inference-only networks (`foldNorms`, `chainWinograd`): `planesFor[j]`
    /// is the convolution k that alone reads convolution j's output (after
    /// j's folded norm and relu), when both run Winograd forward passes: j
    /// stores its output as k's channels-last input planes
    /// (`Conv2D.outputPlanes`), which k reads in place (`Conv2D.inputPlanesStride`),
    /// so neither transposes it. j's nodes' `sampleStride` is then the
    /// planes' floats per image.
    var planesFor: [Int?]
    /// Inference-only networks (`foldNorms`, `foldPools`): `foldedPool[j]` is
    /// the max pool that alone reads convolution j's output (after j's fused
    /// relu), when j's forward pass can pool its staged outputs
    /// (`Conv2D.poolFoldable`): j stores the pool's output (`PooledStore`),
    /// the pool node is `skipped` and stored as j, and j's nodes'
    /// `sampleStride` is the pool's output size. Not with a folded norm
    /// (a negative scale reverses the order the max depends on), a folded
    /// residual or Winograd planes in or out.
    var foldedPool: [Int?]
    /// `poolMasks[p]`: max pool p alone reads the relu fused into
    /// convolution j (`rectifies[j]`), so p's backward applies the relu's
    /// gradient mask as it routes its gradients (`MaxPool2D.masksRectifiedInput`)
    /// and j's backward does not (`Conv2D.readerMasksGradient`): one pass
    /// less over j's full-size output gradient.
    var poolMasks: [Bool]
    /// `routedPool[j]`: in a training network (`routePools`), the masking
    /// pool p whose gradient convolution j takes straight into its weight
    /// gradient (`Conv2D.routedPool`): j reads the model input (no input
    /// gradient is wanted) and `Conv2D.poolRoutable`. j's output gradient is
    /// never written or read: it takes no buffer space and is never zeroed.
    var routedPool: [Int?]
    /// Owners whose gradient buffer must be zeroed before layer i's backward:
    /// the backward of the last reader of any node the buffer holds.
    var zeroBefore: [[Int]]
    /// `overwritable[i]`: the inputs k of layer i whose owner's gradient
    /// buffer layer i's backward writes first, whole: layer i is the
    /// owner's last reader (`zeroBefore`), reads it once (input k), and the
    /// node spans the buffer (no slice). Such a gradient need not be zeroed
    /// when the layer writes it instead of adding into it (the readers
    /// before it, whose backward runs later, add into it;
    /// `InputGradientOverwriting`, the network decides).
    var overwritable: [[Int]]
    /// Buffers shared between owners that are never live at once. Owner r is
    /// live over the layers [its first member, its last reader]:
    /// - its gradient, from the backward of its last reader (the first write)
    ///   down to the backward of its first member (the last read);
    /// - in an inference-only network, its values, from the forward of its
    ///   first member (the first write) to the forward of its last reader.
    /// The intervals are the same, so one colouring serves both.
    /// `sharedSlot[r]` is r's buffer (-1 for non-owners) and `slotSizes[k]`
    /// the floats per sample buffer k must hold.
    var sharedSlot: [Int]
    var slotSizes: [Int]
    /// In a training network, the owner whose value buffer holds owner r's
    /// values (r itself, or for a residual join, `Add` r, its input 0 when
    /// that input's layer never reads its output in backward
    /// (`OutputFreeBackward`), owns plain storage and has no other reader).
    /// The join writes over it; gradients keep their own buffers. Only
    /// training networks use it: an inference network's `sharedSlot`
    /// colouring already reuses buffers by liveness.
    var valueHost: [Int]

    /// `fuseReLU: false` keeps every relu a layer of its own, `inPlaceJoins:
    /// false` every join's values in a buffer of its own (tests compare
    /// them); `foldNorms: true` (inference-only networks) folds batch norms
    /// into the convolutions before them.
    /// `chainWinograd` (with `foldNorms`) finds `planesFor`, `foldPools`
    /// (with `foldNorms`) `foldedPool`.
    /// `routePools` (training networks) finds `routedPool`.
    init(model: Model, fuseReLU: Bool = true, inPlaceJoins: Bool = true, foldNorms: Bool = false, chainWinograd: Bool = true,
         foldPools: Bool = true, routePools: Bool = false) {
        let layers = model.layers, n = layers.count
        var readers = [[Int]](repeating: [], count: n)
        for (i, sources) in model.inputs.enumerated() { for j in sources where j >= 0 { readers[j].append(i) } }
        owner = Array(0..<n)
        offset = [Int](repeating: 0, count: n)
        sampleStride = layers.map { $0.outputShape.count }
        inPlaceIn = [Int?](repeating: nil, count: n)
        for c in stride(from: n - 1, through: 0, by: -1) {
            guard let concat = layers[c] as? Concat else { continue }
            let sources = model.inputs[c]
            for (k, j) in sources.enumerated() {
                guard j >= 0, j != n - 1, owner[j] == j, inPlaceIn[j] == nil,
                      sources.filter({ $0 == j }).count == 1,
                      layers[j] is StridedOutputLayer,
                      readers[j].allSatisfy({ $0 == c || layers[$0] is StridedInputLayer || layers[$0] is MultiInputLayer })
                else { continue }
                inPlaceIn[j] = c
                owner[j] = owner[c]
                offset[j] = offset[c] + concat.channelOffsets[k] * concat.outputShape.spatial
                sampleStride[j] = sampleStride[c]
            }
        }
        skipped = [Bool](repeating: false, count: n)
        rectifies = [Bool](repeating: false, count: n)
        for r in 0..<n where fuseReLU && layers[r] is ReLU && owner[r] == r && inPlaceIn[r] == nil {
            let j = model.inputs[r][0]
            // The producer must own plain storage of its own (not a concat
            // slice, not an identity) and have no reader but this relu.
            guard j >= 0, layers[j] is ReLUFusable, owner[j] == j, inPlaceIn[j] == nil,
                  readers[j] == [r] else { continue }
            rectifies[j] = true
            skipped[r] = true
            owner[r] = j
            sampleStride[r] = sampleStride[j]
        }
        foldedNorm = [Int?](repeating: nil, count: n)
        for r in 0..<n where foldNorms && layers[r] is BatchNorm && owner[r] == r && inPlaceIn[r] == nil && r != n - 1 {
            let j = model.inputs[r][0]
            // The convolution must own plain storage, feed only this norm
            // and write its output densely (the norm reads it so).
            guard j >= 0, layers[j] is Conv2D, owner[j] == j, inPlaceIn[j] == nil, !rectifies[j], readers[j] == [r],
                  sampleStride[j] == layers[j].outputShape.count else { continue }
            foldedNorm[j] = r
            rectifies[j] = rectifies[r]
            rectifies[r] = false
            skipped[r] = true
            for k in 0..<n where owner[k] == r { owner[k] = j; sampleStride[k] = sampleStride[j] }
        }
        valueHost = Array(0..<n)
        for i in 0..<n where inPlaceJoins && layers[i] is Add && owner[i] == i && inPlaceIn[i] == nil {
            let j = model.inputs[i][0]
            guard j >= 0, j != n - 1, layers[j] is OutputFreeBackward, owner[j] == j, inPlaceIn[j] == nil,
                  readers[j] == [i], !model.inputs[i].dropFirst().contains(j) else { continue }
            valueHost[i] = j
        }
        for j in 0..<(n - 1) {
            guard let shortcut = layers[j] as? PaddedShortcut, shortcut.isIdentity, inPlaceIn[j] == nil else { continue }
            let source = model.inputs[j][0]
            // Only a source stored on its own (or a fused relu, stored as its
            // producer): readers of a concat slice would need strides that
            // j's readers were not checked for.
            guard source >= 0, owner[source] == source || rectifies[owner[source]] else { continue }
            skipped[j] = true
            owner[j] = owner[source]
            sampleStride[j] = sampleStride[source]
        }
        // After the identity shortcuts: a block's skipped shortcut is stored as
        // its input, which is complete before the block's convolutions run.
        foldedResidual = [Int?](repeating: nil, count: n)
        for i in 0..<n where foldNorms && layers[i] is Add && model.inputs[i].count == 2 && owner[i] == i
            && inPlaceIn[i] == nil && i != n - 1 {
            let ports = model.inputs[i]
            for (x, other) in [(ports[0], ports[1]), (ports[1], ports[0])] {
                guard x >= 0, other >= 0 else { break }
                let j = owner[x]
                // x is the convolution itself or its folded norm, read by
                // this add alone; the convolution writes its output densely.
                guard layers[j] is Conv2D, x == j || foldedNorm[j] == x, inPlaceIn[j] == nil, !rectifies[j],
                      readers[x] == [i], x == j || readers[j] == [x], owner[other] != j,
                      sampleStride[j] == layers[j].outputShape.count else { continue }
                // Every layer that writes the other input's storage runs before j.
                let source = owner[other]
                var ready = true
                for k in j..<n where owner[k] == source && !skipped[k] { ready = false }
                guard ready else { continue }
                foldedResidual[j] = other
                rectifies[j] = rectifies[i]
                rectifies[i] = false
                skipped[i] = true
                for k in 0..<n where owner[k] == i { owner[k] = j; sampleStride[k] = sampleStride[j] }
                break
            }
        }
        planesFor = [Int?](repeating: nil, count: n)
        var storedFloats = layers.map { $0.outputShape.count }
        for j in 0..<n where foldNorms && chainWinograd && foldedNorm[j] != nil && foldedResidual[j] == nil {
            guard let producer = layers[j] as? Conv2D, producer.winogradInputLayout != nil, owner[j] == j, inPlaceIn[j] == nil,
                  sampleStride[j] == layers[j].outputShape.count else { continue }
            // The nodes stored as j (its folded norm, fused relus): none is
            // the output, and their one reader outside them is convolution k.
            let (members, outside) = Self.storedAs(j, owner: owner, skipped: skipped, readers: readers)
            guard !members.contains(n - 1), outside.count == 1, let k = outside.first, model.inputs[k].count == 1,
                  let consumer = layers[k] as? Conv2D, let planes = consumer.winogradInputLayout else { continue }
            planesFor[j] = k
            for m in members { sampleStride[m] = planes.imageFloats }
            storedFloats[j] = planes.imageFloats
        }
        foldedPool = [Int?](repeating: nil, count: n)
        for p in 0..<n where foldNorms && foldPools && layers[p] is MaxPool2D && owner[p] == p && inPlaceIn[p] == nil {
            let source = model.inputs[p][0]
            guard source >= 0 else { continue }
            let j = owner[source]
            guard let conv = layers[j] as? Conv2D, conv.poolFoldable, foldedNorm[j] == nil, foldedResidual[j] == nil,
                  planesFor[j] == nil, !planesFor.contains(j), inPlaceIn[j] == nil,
                  sampleStride[j] == layers[j].outputShape.count else { continue }
            // The nodes stored as j (fused relus): none is the output, and
            // their one reader outside them is this pool.
            let (members, outside) = Self.storedAs(j, owner: owner, skipped: skipped, readers: readers)
            guard !members.contains(n - 1), outside == [p] else { continue }
            foldedPool[j] = p
            skipped[p] = true
            for k in 0..<n where owner[k] == p { owner[k] = j }
            for k in 0..<n where owner[k] == j { sampleStride[k] = layers[p].outputShape.count }
            storedFloats[j] = layers[p].outputShape.count
        }
        poolMasks = [Bool](repeating: false, count: n)
        for p in 0..<n where layers[p] is MaxPool2D && !skipped[p] {
            let source = model.inputs[p][0]
            guard source >= 0, skipped[source], layers[source] is ReLU else { continue }
            let j = owner[source]
            guard rectifies[j], layers[j] is Conv2D, inPlaceIn[j] == nil else { continue }
            let (members, outside) = Self.storedAs(j, owner: owner, skipped: skipped, readers: readers)
            guard !members.contains(n - 1), outside == [p] else { continue }
            poolMasks[p] = true
        }
        routedPool = [Int?](repeating: nil, count: n)
        for p in 0..<n where routePools && poolMasks[p] {
            let j = owner[model.inputs[p][0]]
            guard model.inputs[j][0] < 0, let conv = layers[j] as? Conv2D, conv.poolRoutable else { continue }
            routedPool[j] = p
        }
        zeroBefore = [[Int]](repeating: [], count: n)
        var lastReader = [Int](repeating: -1, count: n)  // per owner
        for j in 0..<n { lastReader[owner[j]] = max(lastReader[owner[j]], readers[j].max() ?? -1) }
        for r in 0..<n where owner[r] == r && lastReader[r] >= 0 && routedPool[r] == nil { zeroBefore[lastReader[r]].append(r) }
        overwritable = [[Int]](repeating: [], count: n)
        let placed = owner  // (the filter's closure must not capture self before it is initialised)
        for r in 0..<n where owner[r] == r && lastReader[r] >= 0 && !skipped[lastReader[r]] {
            let i = lastReader[r], sources = model.inputs[i]
            let reads = sources.indices.filter { sources[$0] >= 0 && placed[sources[$0]] == r }
            guard reads.count == 1, let k = reads.first else { continue }
            let j = sources[k]
            guard offset[j] == 0, sampleStride[j] == layers[r].outputShape.count,
                  layers[j].outputShape.count == layers[r].outputShape.count else { continue }
            overwritable[i].append(k)
        }

        // Live intervals in layer indices, [first member, last reader] (the
        // output, read by no layer, is live at its own backward: the loss seeds it).
        let ownerOf = owner  // (closures below must not capture self before it is initialised)
        var firstMember = Array(0..<n)
        for j in 0..<n { firstMember[ownerOf[j]] = min(firstMember[ownerOf[j]], j) }
        let owners = (0..<n).filter { ownerOf[$0] == $0 }
        let live = Dictionary(uniqueKeysWithValues: owners.map { ($0, (lo: firstMember[$0], hi: max(lastReader[$0], $0))) })
        // Greedy interval colouring from the highest layer down: a buffer is
        // free for an owner once its occupant's interval lies wholly above it.
        var assigned = [Int](repeating: -1, count: n)
        var sizes: [Int] = []
        var freeBelow: [Int] = []  // per buffer: the occupant's lo (free for intervals with hi < lo)
        for r in owners.sorted(by: { live[$0]!.hi > live[$1]!.hi || (live[$0]!.hi == live[$1]!.hi && $0 > $1) }) {
            let interval = live[r]!, size = routedPool[r] == nil ? storedFloats[r] : 0
            // Best fit among free buffers: the smallest one already large enough, else the largest.
            let free = freeBelow.indices.filter { interval.hi < freeBelow[$0] }
            let slot = free.filter { sizes[$0] >= size }.min { sizes[$0] < sizes[$1] } ?? free.max { sizes[$0] < sizes[$1] }
            if let slot {
                assigned[r] = slot
                sizes[slot] = max(sizes[slot], size)
                freeBelow[slot] = interval.lo
            } else {
                assigned[r] = sizes.count
                sizes.append(size)
                freeBelow.append(interval.lo)
            }
        }
        sharedSlot = assigned
        slotSizes = sizes
    }

    /// The (convolution, pool) pairs of `routedPool`.
    var routedPools: [(conv: Int, pool: Int)] { routedPool.indices.compactMap { j in routedPool[j].map { (j, $0) } } }

    /// The scratch floats the routed weight gradients need (0: none routed).
    func routedScratchFloats(_ model: Model) -> Int {
        routedPools.map { (model.layers[$0.conv] as! Conv2D).routedScratchFloats(pool: model.layers[$0.pool] as! MaxPool2D) }.max() ?? 0
    }

    /// The nodes stored as owner j (`members`: j, its folded norm, fused
    /// relus, ...) and the layers outside them that read any of them
    /// (`outside`; a skipped member read by another member is inside).
    private static func storedAs(_ j: Int, owner: [Int], skipped: [Bool], readers: [[Int]]) -> (members: [Int], outside: [Int]) {
        let members = owner.indices.filter { owner[$0] == j }
        return (members, members.flatMap { m in readers[m].filter { owner[$0] != j || !skipped[$0] } })
    }
}
