import PTrain

/// The memory each worker writes first, on its own thread right after it is
/// pinned, so that its pages land on its core's NUMA node (`MemoryPlacement`;
/// the buffers are untouched pages until then, see `FloatBuffer`). Writing
/// zeros changes no value: every buffer listed is zero-filled already.
///
/// Worker w touches its gradient arena and partial-sum buffers, its block of
/// the dynamic schedule's leaves (`leaves(of:)`, the shards it would own
/// statically), and of the parameter and optimizer-state arenas: the slice it
/// reduces and updates (`ShardPlan.slice`) in synchronous SGD, its whole
/// replica under parameter averaging. The coordinator writes the initial
/// weights only after every worker has done this.
package struct FirstTouch: @unchecked Sendable {
    // @unchecked: raw pointers into buffers the engine owns and keeps alive
    // for as long as the pool's threads run; worker w writes only regions[w],
    // and the regions of different workers do not overlap.
    /// `regions[w]`: the (start, float count) ranges worker w zeroes.
    package let regions: [[(UnsafeMutablePointer<Float>, Int)]]

    /// `parameters`/`states`: one arena (synchronous SGD: sliced among the
    /// workers) or one per worker (averaging: worker w takes all of its own).
    /// `summed`: the step's summed gradient (synchronous SGD), sliced like the weights.
    package init(gradients: [[FloatBuffer]], leaves: [FloatBuffer], parameters: [FloatBuffer], states: [FloatBuffer],
                 summed: FloatBuffer? = nil) {
        let workers = gradients.count
        regions = (0..<workers).map { w in
            var mine = gradients[w].map { ($0.pointer, $0.count) }
            mine += Self.leaves(of: w, workers: workers, count: leaves.count).map { (leaves[$0].pointer, leaves[$0].count) }
            for arena in [parameters, states, summed.map { [$0] } ?? []] where !arena.isEmpty {
                if arena.count == workers && workers > 1 {
                    mine.append((arena[w].pointer, arena[w].count))
                } else {
                    let slice = ShardPlan.slice(of: w, workers: workers, count: arena[0].count)
                    mine.append((arena[0].pointer + slice.lowerBound, slice.count))
                }
            }
            return mine
        }
    }

    /// Leaves `[S w / W, S (w+1) / W)` of S: a contiguous block per worker,
    /// all S covered (also when W does not divide S).
    package static func leaves(of w: Int, workers: Int, count: Int) -> Range<Int> {
        (count * w / workers)..<(count * (w + 1) / workers)
    }

    /// Worker w's part; runs on worker w's thread.
    func run(_ w: Int) {
        for (start, count) in regions[w] { start.update(repeating: 0, count: count) }
    }
}
