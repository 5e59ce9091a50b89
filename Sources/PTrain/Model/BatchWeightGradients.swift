import PTrainKernels

/// The weight gradients of the large dense layers, computed once per step
/// over every shard of the batch, straight into the summed gradient arena,
/// instead of per shard into each worker's arena and then through the
/// gradient tree.
///
/// Why: a dense layer's gradient `dW[O, I] = dy^T x` is as large as its
/// weights, and in AlexNet-style nets those layers hold almost all of the
/// parameters (the 2012 AlexNet: 58.6M of 61M). Summed the ordinary way,
/// each worker arena, each leaf of the tree and each partial sum holds a
/// copy. Here the layers' inputs `x` and output gradients `dy` (a few MB:
/// B rows of I and O floats) are recorded during the shards' backward
/// passes, and after the step's barrier the workers split dW's rows between
/// them. The per-shard arenas keep only the other tensors
/// (`compactCount` floats, `compactOffset`).
///
/// Bits: every shard's dW is the same GEMM (k = shard size, beta 1 into
/// zeros) as a dense layer's own backward, and the shards are summed in the
/// engine's tree (`leaves`: each leaf's shards in the canonical halving tree,
/// then the leaves in the same halving tree), so the result is bitwise the
/// ordinary path's. A row tile starts on a multiple of 8 rows, the GEMM's
/// micro-panel height, so every element goes through the same micro-kernel
/// as in the whole GEMM, whichever worker computes it.
///
/// Thread safety: shard s's recording writes only row block s of the
/// recording buffers; part p of `reduce` writes only its rows of the target
/// and its own scratch. The caller separates the two phases with a barrier.
public final class BatchWeightGradients: @unchecked Sendable {
    /// One deferred dense layer: its sizes, its tensors' arena offsets and
    /// its recordings, `x[shards * shardSize, inputs]`, `dy[shards * shardSize, outputs]`.
    struct Entry {
        let layerIndex: Int
        let inputs: Int, outputs: Int
        let weightOffset: Int
        let biasOffset: Int?
        let x: FloatBuffer, dy: FloatBuffer
    }

    let entries: [Entry]
    let plan: Plan
    /// `plan.levelFloats` (read per tile: kept, not recomputed).
    private let levelFloats: Int
    public let shards: Int, shardSize: Int
    /// The tree's leaves: consecutive shard ranges covering `0..<shards`.
    public let leaves: [Range<Int>]
    /// The full-layout arena the dense gradients are written into.
    public let target: FloatBuffer
    /// Floats of a per-shard (compact) gradient arena: every tensor but the deferred ones.
    public let compactCount: Int
    /// `compactOffset[layoutOffset]` of every kept tensor.
    private let compactOffsets: [Int: Int]
    /// Kept tensors as (layout offset, compact offset, padded float count), in arena order.
    public let segments: [(layout: Int, compact: Int, count: Int)]
    /// Row tiles of dW computed at once (a multiple of 8).
    static let tileRows = 16

    /// Defers every dense layer of `model` whose tensors are its own (none
    /// shared with another layer). `leaves`: the engine's tree over the
    /// `shards` shards of `shardSize` samples.
    public init(model: Model, shards: Int, shardSize: Int, leaves: [Range<Int>], target: FloatBuffer) throws(AllocationError) {
        precondition(target.count == model.layout.totalCount)
        precondition(leaves.first?.lowerBound == 0 && leaves.last?.upperBound == shards)
        self.shards = shards; self.shardSize = shardSize; self.leaves = leaves; self.target = target
        plan = Plan(model: model)
        levelFloats = plan.levelFloats
        let rows = shards * shardSize
        entries = try plan.layers.map { (index, dense) throws(AllocationError) in
            let offsets = model.layout.layerOffsets[index]
            return Entry(layerIndex: index, inputs: dense.inputShape.count, outputs: dense.outputShape.count,
                         weightOffset: offsets[0], biasOffset: dense.hasBias ? offsets[1] : nil,
                         x: try FloatBuffer(count: rows * dense.inputShape.count, purpose: "the dense layers' recorded inputs"),
                         dy: try FloatBuffer(count: rows * dense.outputShape.count, purpose: "the dense layers' recorded gradients"))
        }
        compactOffsets = Dictionary(uniqueKeysWithValues: plan.segments.map { ($0.layout, $0.compact) })
        segments = plan.segments
        compactCount = plan.compactCount
    }

    /// Which layers are deferred and where the other tensors go, known from
    /// the model alone (`MemoryEstimate` uses it before anything is allocated).
    public struct Plan {
        /// The deferred dense layers, by layer index.
        let layers: [(index: Int, dense: Dense)]
        public let segments: [(layout: Int, compact: Int, count: Int)]
        public let compactCount: Int

        public init(model: Model) {
            layers = model.layers.enumerated().compactMap { index, layer in
                guard let dense = layer as? Dense, dense.parameterSpecs.allSatisfy({ $0.shared == nil }) else { return nil }
                return (index, dense)
            }
            let deferred = Set(layers.map(\.index))
            var offset = 0, seen: Set<Int> = [], segments: [(layout: Int, compact: Int, count: Int)] = []
            for e in model.layout.entries where !deferred.contains(e.layerIndex) && seen.insert(e.offset).inserted {
                let padded = (e.count + ParameterLayout.alignment - 1) / ParameterLayout.alignment * ParameterLayout.alignment
                segments.append((e.offset, offset, padded))
                offset += padded
            }
            self.segments = segments
            compactCount = offset
        }

        /// Floats recorded per sample of the batch (every deferred layer's x and dy rows).
        public var recordedFloatsPerSample: Int { layers.reduce(0) { $0 + $1.dense.inputShape.count + $1.dense.outputShape.count } }

        /// Floats of one worker's `reduce` scratch with `leaves` over the
        /// shards: the largest tile of dW and db rows (at most `tileRows`)
        /// per partial-sum level (the depth of the leaves' tree plus the deepest leaf's).
        public func scratchFloats(leaves: [Range<Int>]) -> Int {
            func depth(_ n: Int) -> Int { var d = 0; while (1 << d) < n { d += 1 }; return d }
            let levels = depth(leaves.count) + depth(leaves.map(\.count).max() ?? 1)
            return levels * levelFloats
        }

        /// Floats of one partial-sum level: the largest tile of dW and db rows.
        var levelFloats: Int {
            layers.map { min(BatchWeightGradients.tileRows, $0.dense.outputShape.count) * ($0.dense.inputShape.count + 1) }.max() ?? 0
        }
    }

    /// Whether layer `index`'s weight gradient is deferred.
    public func defers(layer index: Int) -> Bool { entries.contains { $0.layerIndex == index } }

    /// Where a kept tensor at `layoutOffset` lives in a compact arena.
    public func compactOffset(_ layoutOffset: Int) -> Int? { compactOffsets[layoutOffset] }

    /// The recording slot of layer `index` (which `Dense` calls during backward).
    func slot(layer index: Int) -> Slot? {
        entries.firstIndex { $0.layerIndex == index }.map { Slot(owner: self, entry: $0) }
    }

    /// A dense layer's handle on its recording buffers.
    struct Slot {
        unowned let owner: BatchWeightGradients
        let entry: Int

        /// Copies a shard's `x[batch, I]` and `dy[batch, O]` to row block `shard`.
        func record(x: UnsafePointer<Float>, dy: UnsafePointer<Float>, batch: Int, shard: Int) {
            let e = owner.entries[entry]
            precondition(batch == owner.shardSize && shard >= 0 && shard < owner.shards)
            (e.x.pointer + shard * batch * e.inputs).update(from: x, count: batch * e.inputs)
            (e.dy.pointer + shard * batch * e.outputs).update(from: dy, count: batch * e.outputs)
        }
    }

    /// Floats of one worker's `reduce` scratch (`Plan.scratchFloats`).
    public var scratchFloats: Int { plan.scratchFloats(leaves: leaves) }

    /// Computes part `part` of `parts` of every deferred gradient (rows in
    /// tiles of 8-row multiples, split evenly) into `target`, using
    /// `workspace` (the worker's: its precision is the layers') and `scratch`
    /// (`scratchFloats`). Returns whether every value it wrote is finite (the
    /// sum of each tile is: the engine's finiteness test), so the step needs
    /// no barrier before its check.
    public func reduce(part: Int, of parts: Int, workspace: GEMMWorkspace, scratch: UnsafeMutablePointer<Float>) -> Bool {
        var finite = true
        for e in entries {
            let panels = (e.outputs + 7) / 8
            let lo = min(e.outputs, panels * part / parts * 8), hi = min(e.outputs, panels * (part + 1) / parts * 8)
            var row = lo
            while row < hi {
                let rows = min(Self.tileRows, hi - row)
                let tile = Tile(entry: e, row: row, rows: rows, shardSize: shardSize, target: target.pointer,
                                scratch: scratch, levelFloats: levelFloats, workspace: workspace)
                tile.sumLeaves(leaves[...], level: 0)
                finite = finite && tile.isFinite
                row += rows
            }
        }
        return finite
    }

    /// One tile of rows `[row, row + rows)` of one layer's dW (and db).
    /// Level 0 is the target arena; level l > 0 is scratch block l - 1.
    private struct Tile {
        let entry: Entry
        let row: Int, rows: Int
        let shardSize: Int
        let target: UnsafeMutablePointer<Float>
        let scratch: UnsafeMutablePointer<Float>
        /// Scratch floats per level (`Plan.levelFloats` >= rows x (inputs + 1)).
        let levelFloats: Int
        let workspace: GEMMWorkspace

        /// dW rows of level l (row stride `inputs`).
        func weights(_ level: Int) -> UnsafeMutablePointer<Float> {
            level == 0 ? target + entry.weightOffset + row * entry.inputs : scratch + (level - 1) * levelFloats
        }

        /// db rows of level l, or nil without a bias.
        func bias(_ level: Int) -> UnsafeMutablePointer<Float>? {
            guard let b = entry.biasOffset else { return nil }
            return level == 0 ? target + b + row : weights(level) + rows * entry.inputs
        }

        /// The leaves' halving tree (split at the middle leaf), each leaf its shards' tree.
        func sumLeaves(_ leaves: ArraySlice<Range<Int>>, level: Int) {
            if leaves.count == 1 { sumShards(leaves.first!, level: level); return }
            let mid = leaves.startIndex + leaves.count / 2
            sumLeaves(leaves[..<mid], level: level)
            sumLeaves(leaves[mid...], level: level + 1)
            add(level + 1, into: level)
        }

        /// `T(lo, hi) = T(lo, mid) + T(mid, hi)`, `mid = lo + (hi - lo) / 2` (`ShardPlan`).
        func sumShards(_ shards: Range<Int>, level: Int) {
            if shards.count == 1 { shard(shards.lowerBound, level: level); return }
            let mid = shards.lowerBound + shards.count / 2
            sumShards(shards.lowerBound..<mid, level: level)
            sumShards(mid..<shards.upperBound, level: level + 1)
            add(level + 1, into: level)
        }

        /// One shard's gradient rows, as `Dense.backward` computes them into a zeroed arena.
        func shard(_ s: Int, level: Int) {
            let n = shardSize, i = entry.inputs, o = entry.outputs
            let x = UnsafePointer(entry.x.pointer + s * n * i), dy = UnsafePointer(entry.dy.pointer + s * n * o)
            let w = weights(level)
            w.update(repeating: 0, count: rows * i)
            // dW[rows, I] += dy^T[rows, N] * x[N, I]
            gemm(transA: true, transB: false, m: rows, n: i, k: n, alpha: 1, a: dy + row, lda: o,
                 b: x, ldb: i, beta: 1, c: w, ldc: i, workspace: workspace)
            if let b = bias(level) {
                b.update(repeating: 0, count: rows)
                for k in 0..<n { accumulate(dy + k * o + row, into: b, count: rows) }
            }
        }

        /// Whether the finished tile (level 0) holds only finite values.
        var isFinite: Bool {
            sum(weights(0), count: rows * entry.inputs).isFinite && (bias(0).map { sum($0, count: rows).isFinite } ?? true)
        }

        func add(_ from: Int, into to: Int) {
            accumulate(weights(from), into: weights(to), count: rows * entry.inputs)
            if let b = bias(to) { accumulate(bias(from)!, into: b, count: rows) }
        }
    }
}
