import PTrain
import PTrainData
import PTrainKernels
import Synchronization

/// The architecture side of a bilevel search (`train.architecture`, DARTS):
/// the architecture half of the training split with its own batch pipeline
/// and epoch order, and Adam over the architecture parameters.
///
/// The architecture parameters are the contiguous `range` at the end of the
/// parameter arena (`ParameterLayout` puts them last): their own region,
/// reduced and updated by itself, that the weight optimizer never steps. Their
/// Adam moments live here, apart from the weights' optimizer state, and are
/// checkpointed as `arch_exp_avg.NAME` / `arch_exp_avg_sq.NAME` with the
/// update count (`architectureSteps` in state.json).
final class ArchitectureSearch {
    let config: ArchitectureConfig
    let set: SampleSet
    let pipeline: BatchPipeline
    let range: Range<Int>
    let adam: Adam
    /// `[2 * range.count]`: Adam's first moment, then its second.
    let moments: FloatBuffer
    /// Architecture updates applied (Adam's bias correction); written by the
    /// first active worker during a run of steps, read between runs.
    var steps = 0
    /// Second order: `[arena]` the weights before the virtual step and the
    /// architecture batch's gradient at the virtual weights; `[range.count]`
    /// the architecture gradient being assembled and the `w+` pass's part.
    let saved: FloatBuffer?, direction: FloatBuffer?
    let alphaGradient: FloatBuffer, alphaPlus: FloatBuffer?
    /// Second order's finite-difference step `0.01 / |direction|` (0: no
    /// Hessian term), set by the first active worker between barriers.
    var epsilon: Float = 0

    /// Gradient passes of one architecture step (first order: the
    /// architecture batch; second order: the weights' batch, the architecture
    /// batch, then w+ and w-, each run exactly once per step, unless epsilon
    /// is 0, which leaves only the last two out); the dynamic schedule numbers
    /// each pass's tickets apart.
    var passes: Int { config.order == .second ? 4 : 1 }

    static let firstMomentPrefix = "arch_exp_avg.", secondMomentPrefix = "arch_exp_avg_sq."

    init(config: ArchitectureConfig, set: SampleSet, pipeline: BatchPipeline, layout: ParameterLayout) throws(AllocationError) {
        self.config = config
        self.set = set
        self.pipeline = pipeline
        range = layout.architectureRange
        adam = Adam(config: config.optimizer)
        moments = try FloatBuffer(count: 2 * range.count, purpose: "the architecture optimizer state")
        let second = config.order == .second
        saved = second ? try FloatBuffer(count: layout.totalCount, purpose: "the second-order search") : nil
        direction = second ? try FloatBuffer(count: layout.totalCount, purpose: "the second-order search") : nil
        alphaGradient = try FloatBuffer(count: max(range.count, 1), purpose: "the architecture gradient")
        alphaPlus = second ? try FloatBuffer(count: max(range.count, 1), purpose: "the second-order search") : nil
    }

    /// Adam's moments as checkpoint tensors, named after the architecture parameters.
    func stateTensors(layout: ParameterLayout) -> [Safetensors.Tensor] {
        let arch = layout.architectureParameters
        func named(_ prefix: String, _ base: UnsafePointer<Float>) -> [Safetensors.Tensor] {
            arch.map { e in
                let p = base + (e.offset - range.lowerBound)
                return Safetensors.Tensor(name: prefix + e.name, shape: e.shape, values: Array(UnsafeBufferPointer(start: p, count: e.count)))
            }
        }
        return named(Self.firstMomentPrefix, moments.pointer) + named(Self.secondMomentPrefix, moments.pointer + range.count)
    }

    /// Loads `tensors` (a checkpoint's `arch_exp_avg*` tensors): every
    /// architecture parameter's two moments, with their shapes.
    func loadState(_ tensors: [Safetensors.Tensor], layout: ParameterLayout, file: String) throws {
        for (prefix, base) in [(Self.firstMomentPrefix, moments.pointer), (Self.secondMomentPrefix, moments.pointer + range.count)] {
            for e in layout.architectureParameters {
                guard let t = tensors.first(where: { $0.name == prefix + e.name }) else {
                    throw RunError("\(file): the checkpoint has no '\(prefix + e.name)' (the architecture optimizer's state; was it written by this bilevel search?)")
                }
                guard t.shape == e.shape else {
                    throw RunError("\(file): '\(t.name)' has shape \(t.shape); the model's '\(e.name)' has \(e.shape)")
                }
                (base + (e.offset - range.lowerBound)).update(from: t.values, count: e.count)
            }
        }
    }

    /// Whether a tensor of a checkpoint's optimizer file belongs to this state.
    static func isArchitectureState(_ name: String) -> Bool {
        name.hasPrefix(firstMomentPrefix) || name.hasPrefix(secondMomentPrefix)
    }
}

/// Which batch a gradient pass of the architecture step reads.
enum SearchBatch { case architecture, weights }

/// The architecture step, run by every worker at the start of each training
/// step before the weights' step, so the weights step at the new alpha (DARTS's
/// order). Its batches are not counted in the training loss and accuracy.
extension DataParallelEngine {
    func architectureStep(_ w: Int, step k: Int, learningRate: Float, slice: Range<Int>) {
        guard let search = architecture else { return }
        let r = replicas[w]
        let first = participation.rank[w] == 0
        let loss = r.lossSum, correct = r.correct
        defer { r.lossSum = loss; r.correct = correct }
        let sums = dynamicSchedule ? leafPointers : gradientPointers
        let leaves = dynamicSchedule ? blocks.count : workers
        let scale = 1 / Float(config.train.batch)
        if search.config.order == .second {
            unrolledGradient(w, step: k, xi: search.config.xi.map(Float.init) ?? learningRate, slice: slice)
        } else {
            computeGradients(w, step: k, scale: scale, architecture: 0)
            pool.barrier.wait()  // every shard's gradient is complete
            if first {
                treeReduce(sums, 0, leaves, range: search.range)
                search.alphaGradient.pointer.update(from: sums[0] + search.range.lowerBound, count: search.range.count)
            }
        }
        if first {
            r.update.start()
            if !sum(search.alphaGradient.pointer, count: search.range.count).isFinite {
                nonFiniteStep.store(k, ordering: .relaxed)
            } else {
                let m = search.moments.pointer, n = search.range.count
                search.adam.update(parameters: parameterPointers[0] + search.range.lowerBound, gradients: search.alphaGradient.pointer,
                                   firstMoment: m, secondMoment: m + n, count: n,
                                   learningRate: Float(search.config.optimizer.learningRate), step: search.steps + 1, gradientScale: 1)
                search.steps += 1
            }
            r.update.stop()
        }
        pool.barrier.wait()  // alpha is updated before any worker's next forward pass
    }

    /// DARTS's second-order architecture gradient (Liu et al. 2019, eq. 7-8),
    /// left in `alphaGradient`:
    ///
    ///     w' = w - xi (dL_train/dw + wd w)            (a virtual SGD step, no momentum)
    ///     g  = dL_arch/dalpha (w', alpha) - xi (dL_train/dalpha(w+) - dL_train/dalpha(w-)) / (2 eps)
    ///     w+- = w -+ ... = w +- eps dL_arch/dw' (w'),  eps = 0.01 / |dL_arch/dw'|
    ///
    /// Five gradient passes per step, every reduction in the fixed tree and
    /// every arena operation elementwise on the worker's slice; the norm is
    /// summed by one worker in arena order: the same bits for any worker count.
    private func unrolledGradient(_ w: Int, step k: Int, xi: Float, slice: Range<Int>) {
        let search = architecture!
        let first = participation.rank[w] == 0
        let sums = dynamicSchedule ? leafPointers : gradientPointers
        let leaves = dynamicSchedule ? blocks.count : workers
        let scale = 1 / Float(config.train.batch)
        let weights = parameterPointers[0], saved = search.saved!.pointer, direction = search.direction!.pointer
        /// Runs `body` over the trainable tensors' indices in this worker's slice (no array built: this is the step).
        func eachTrainable(_ body: (Int) -> Void) {
            for r in optimizerStep.trainableRanges {
                var i = max(r.lowerBound, slice.lowerBound)
                while i < min(r.upperBound, slice.upperBound) { body(i); i += 1 }
            }
        }
        let n = search.range.count, alpha = search.range.lowerBound
        let decay = Float(config.train.optimizer.weightDecay)
        // The training batch's gradient at w; the virtual step.
        computeGradients(w, step: k, scale: scale, architecture: 0, batch: .weights)
        pool.barrier.wait()
        treeReduce(sums, 0, leaves, range: slice)
        saved.advanced(by: slice.lowerBound).update(from: weights + slice.lowerBound, count: slice.count)
        eachTrainable { i in weights[i] -= xi * (sums[0][i] + decay * weights[i]) }
        pool.barrier.wait()  // w' everywhere; the sums may be overwritten
        // The architecture batch's gradient at w': alpha's part and the direction.
        computeGradients(w, step: k, scale: scale, architecture: 1)
        pool.barrier.wait()
        treeReduce(sums, 0, leaves, range: slice)
        direction.advanced(by: slice.lowerBound).update(from: sums[0] + slice.lowerBound, count: slice.count)
        pool.barrier.wait()  // the whole direction is there
        if first {
            search.alphaGradient.pointer.update(from: direction + alpha, count: n)
            var norm = 0.0
            for r in optimizerStep.trainableRanges { for i in r { norm += Double(direction[i]) * Double(direction[i]) } }
            search.epsilon = norm > 0 ? Float(0.01 / norm.squareRoot()) : 0
        }
        pool.barrier.wait()  // epsilon is decided
        let eps = search.epsilon
        guard eps > 0 else {
            weights.advanced(by: slice.lowerBound).update(from: saved + slice.lowerBound, count: slice.count)
            // The two skipped passes' tickets are taken, so the next step's start where they should.
            if first { nextArchitectureShard.add(2 * blocks.count, ordering: .relaxed) }
            pool.barrier.wait()
            return
        }
        // dL_train/dalpha at w + eps d and at w - eps d.
        for pass in 0..<2 {
            let sign: Float = pass == 0 ? 1 : -1
            weights.advanced(by: slice.lowerBound).update(from: saved + slice.lowerBound, count: slice.count)
            eachTrainable { i in weights[i] = saved[i] + sign * eps * direction[i] }
            pool.barrier.wait()
            computeGradients(w, step: k, scale: scale, architecture: sign > 0 ? 2 : 3, batch: .weights)
            pool.barrier.wait()
            if first {
                treeReduce(sums, 0, leaves, range: search.range)
                if sign > 0 {
                    search.alphaPlus!.pointer.update(from: sums[0] + alpha, count: n)
                } else {
                    let g = search.alphaGradient.pointer, plus = search.alphaPlus!.pointer
                    for i in 0..<n { g[i] -= xi * (plus[i] - sums[0][alpha + i]) / (2 * eps) }
                }
            }
            pool.barrier.wait()  // the sums are read before the next pass overwrites them
        }
        weights.advanced(by: slice.lowerBound).update(from: saved + slice.lowerBound, count: slice.count)
        pool.barrier.wait()
    }
}
