import PTrain
import PTrainData
import PTrainKernels

/// Evaluation on a split (validation or test), on all workers (and
/// processes): each worker scores a contiguous share of it with its
/// evaluation network.
extension DataParallelEngine {
    /// Test-set loss, top-1 and top-5 with the current weights.
    public func evaluateTest(epoch: Int, tenCrop: Bool = false) -> EvalResult {
        evaluate(test, epoch: epoch, tenCrop: tenCrop)
    }

    /// `set`'s loss, top-1 and top-5 with the current weights, on all
    /// workers; `tenCrop` averages the ten views' probabilities (softmax models).
    public func evaluate(_ set: SampleSet, epoch: Int, tenCrop: Bool = false) -> EvalResult {
        evaluationSet = set
        state.mode = .evaluate
        state.epoch = epoch
        state.views = tenCrop && model.loss == .softmaxCrossEntropy ? SampleSet.tenCropViews : 1
        prepareInferenceWeights()
        pool.run()
        for r in replicas { r.evalNetwork.inferenceWeights?.invalidate() }
        var totals = [0.0, 0.0, 0.0]  // loss, correct, correct top-5 (counts are exact in a Double)
        for r in replicas { totals[0] += r.lossSum; totals[1] += Double(r.correct); totals[2] += Double(r.correct5) }
        group.sum(&totals, count: 3)
        let loss = totals[0], correct = Int(totals[1]), correct5 = Int(totals[2])
        let n = Double(max(set.count, 1))
        return EvalResult(loss: loss / n, top1: Double(correct) / n, count: set.count,
                          top5: model.loss == .softmaxCrossEntropy ? Double(correct5) / n : .nan)
    }

    /// Prepares each store of inference weights (one per parameter arena)
    /// from the current weights, on this thread while no worker runs; the
    /// evaluation then only reads them, and marks them stale after.
    private func prepareInferenceWeights() {
        var done: [ObjectIdentifier] = []
        for r in replicas {
            guard let store = r.evalNetwork.inferenceWeights, !done.contains(ObjectIdentifier(store)) else { continue }
            r.evalNetwork.prepareInference()
            done.append(ObjectIdentifier(store))
        }
    }

    // MARK: worker side

    /// Worker w evaluates its contiguous share of `evaluationSet`. With softmax
    /// cross-entropy, class probabilities are averaged over the views (one,
    /// or ten for ten-crop) before scoring.
    func evaluate(_ w: Int) {
        let r = replicas[w]
        let test = evaluationSet
        // Global worker index: rank-major, so ranks x workers split the test set like one process.
        let g = group.rank * workers + w, all = group.size * workers
        let lo = test.count * g / all, hi = test.count * (g + 1) / all
        r.lossSum = 0; r.correct = 0; r.correct5 = 0
        let net = r.evalNetwork
        net.context.epoch = state.epoch
        let softmax = model.loss == .softmaxCrossEntropy
        let views = state.views
        let k = model.outputShape.count
        var start = lo
        while start < hi {
            let n = min(net.maxBatch, hi - start)
            for i in 0..<n { net.context.sampleIndices[i] = start + i }
            guard softmax else {
                test.fill(start..<(start + n), input: net.input.pointer, labels: net.labels.pointer, scratch: r.samples)
                net.forward(batch: n, training: false)
                r.lossSum += Double(net.loss(batch: n, gradScale: nil, correct: &r.correct))
                start += n
                continue
            }
            let probs = r.probabilities.pointer
            probs.update(repeating: 0, count: n * k)
            for view in 0..<views {
                test.fill(start..<(start + n), input: net.input.pointer, labels: net.labels.pointer, view: view,
                          scratch: r.samples)
                net.forward(batch: n, training: false)
                addSoftmax(net.output, rows: n, classes: k, scale: 1 / Float(views), into: probs)
            }
            score(probs, labels: net.labels.pointer, rows: n, classes: k, loss: &r.lossSum, correct: &r.correct, correct5: &r.correct5)
            start += n
        }
    }
}
