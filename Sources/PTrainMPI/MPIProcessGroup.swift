import CMPI
import Foundation
import PTrain
import PTrainRuntime
import Synchronization

/// The ranks of an MPI job (`mpirun -np R ptrain train ...`, `srun`) as a
/// `ProcessGroup`.
///
/// - `treeSum` is a reduce-scatter followed by an allgather, both with a
///   fixed order: the arena is cut into R slices (`ShardPlan.slice`); an
///   `MPI_Alltoallv` gives rank j every rank's slice j; rank j adds them in the
///   canonical tree; an `MPI_Allgatherv` gives everyone every summed slice.
///   Each rank sends and receives 2 (R - 1) / R of the buffer, like a ring
///   allreduce, and the bits do not depend on MPI's own reduction order.
/// - `sum` gathers every rank's values and adds them in rank order.
/// - Errors are returned by MPI (`MPI_ERRORS_RETURN`, not its default abort)
///   and reported with the rank before the job is aborted.
/// - A watchdog thread ends this process when one collective has waited more
///   than `timeout` seconds (a peer died or hangs), so no rank waits forever
///   even where the launcher does not notice. Rank death is normally noticed
///   by the launcher first: mpirun then ends every rank within a second or so.
///
/// MPI is initialised with `MPI_THREAD_SERIALIZED`: the collectives are called
/// by one worker thread of the process at a time (the first active worker),
/// or by the coordinator between steps.
public final class MPIProcessGroup: ProcessGroup, @unchecked Sendable {
    public let rank: Int
    public let size: Int
    /// Seconds a collective may wait for the other ranks before this process gives up.
    public let timeout: Double
    private let comm: MPI_Comm
    /// Start (monotonic seconds) of the collective in progress, or 0: read by the watchdog.
    private let callStarted = Atomic<UInt64>(0)
    private let finished = Atomic<Bool>(false)

    // Reused between calls (grown on first use: no allocation per step).
    private var scratch: UnsafeMutablePointer<Float>? = nil
    private var scratchCount = 0
    private var doubles: UnsafeMutablePointer<Double>? = nil
    private var doublesCount = 0
    private let pieces: UnsafeMutablePointer<UnsafeMutablePointer<Float>>
    private let sendCounts: UnsafeMutablePointer<Int32>, sendOffsets: UnsafeMutablePointer<Int32>
    private let receiveCounts: UnsafeMutablePointer<Int32>, receiveOffsets: UnsafeMutablePointer<Int32>
    private let sliceCounts: UnsafeMutablePointer<Int32>, sliceOffsets: UnsafeMutablePointer<Int32>

    /// Environment variables an MPI launcher sets (Open MPI, MPICH/Hydra, PMIx under Slurm's srun).
    public static let launcherVariables = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"]

    /// Initialises MPI. `timeout`: seconds a collective may wait (default
    /// 300, or `PTRAIN_MPI_TIMEOUT`).
    public init(timeout: Double? = nil) throws {
        var provided: Int32 = 0
        let rc = MPI_Init_thread(nil, nil, CMPI_thread_serialized(), &provided)
        guard rc == CMPI_success() else { throw RunError("MPI_Init_thread failed: \(Self.errorString(rc))") }
        guard provided >= CMPI_thread_serialized() else {
            throw RunError("this MPI library provides thread level \(provided); ptrain needs MPI_THREAD_SERIALIZED (\(CMPI_thread_serialized())) because worker threads make the exchanges")
        }
        let world = CMPI_comm_world()
        _ = MPI_Comm_set_errhandler(world, CMPI_errors_return())
        var dup: MPI_Comm? = nil
        guard MPI_Comm_dup(world, &dup) == CMPI_success(), let comm = dup else {
            throw RunError("MPI_Comm_dup of MPI_COMM_WORLD failed")
        }
        _ = MPI_Comm_set_errhandler(comm, CMPI_errors_return())
        self.comm = comm
        var r: Int32 = 0, s: Int32 = 0
        _ = MPI_Comm_rank(comm, &r)
        _ = MPI_Comm_size(comm, &s)
        rank = Int(r)
        size = Int(s)
        if let timeout {
            self.timeout = timeout
        } else if let text = ProcessInfo.processInfo.environment["PTRAIN_MPI_TIMEOUT"] {
            guard let t = Double(text), t > 0 else {
                throw RunError("PTRAIN_MPI_TIMEOUT: expected a positive number of seconds, found '\(text)'")
            }
            self.timeout = t
        } else {
            self.timeout = 300
        }
        let n = Int(s)
        pieces = .allocate(capacity: n)
        sendCounts = .allocate(capacity: n); sendOffsets = .allocate(capacity: n)
        receiveCounts = .allocate(capacity: n); receiveOffsets = .allocate(capacity: n)
        sliceCounts = .allocate(capacity: n); sliceOffsets = .allocate(capacity: n)
        startWatchdog()
    }

    deinit {
        scratch?.deallocate(); doubles?.deallocate(); pieces.deallocate()
        [sendCounts, sendOffsets, receiveCounts, receiveOffsets, sliceCounts, sliceOffsets].forEach { $0.deallocate() }
    }

    /// Ends MPI after a successful run (every rank calls it).
    public func finalize() {
        finished.store(true, ordering: .relaxed)
        _ = MPI_Finalize()
    }

    public func treeSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) {
        guard size > 1, count > 0 else { return }
        guard count <= Int(Int32.max) else { abort("cannot exchange \(count) floats: MPI counts are 32-bit") }
        for j in 0..<size {
            let s = ShardPlan.slice(of: j, workers: size, count: count)
            sliceCounts[j] = Int32(s.count)
            sliceOffsets[j] = Int32(s.lowerBound)
        }
        let mine = Int(sliceCounts[rank])
        if scratchCount < size * mine {
            scratch?.deallocate()
            scratchCount = size * mine
            scratch = .allocate(capacity: scratchCount)
        }
        let pieceArea = scratch!
        for i in 0..<size {
            sendCounts[i] = sliceCounts[i]; sendOffsets[i] = sliceOffsets[i]
            receiveCounts[i] = Int32(mine); receiveOffsets[i] = Int32(i * mine)
            pieces[i] = pieceArea + i * mine
        }
        collective("MPI_Alltoallv") {
            MPI_Alltoallv(buffer, sendCounts, sendOffsets, CMPI_float(), pieceArea, receiveCounts, receiveOffsets, CMPI_float(), comm)
        }
        treeReduce(pieces, 0, size, range: 0..<mine)
        (buffer + Int(sliceOffsets[rank])).update(from: pieces[0], count: mine)
        collective("MPI_Allgatherv") {
            MPI_Allgatherv(CMPI_in_place(), 0, CMPI_float(), buffer, sliceCounts, sliceOffsets, CMPI_float(), comm)
        }
    }

    public func sum(_ values: UnsafeMutablePointer<Double>, count: Int) {
        guard size > 1, count > 0 else { return }
        if doublesCount < size * count {
            doubles?.deallocate()
            doublesCount = size * count
            doubles = .allocate(capacity: doublesCount)
        }
        let all = doubles!
        collective("MPI_Allgather") {
            MPI_Allgather(values, Int32(count), CMPI_double(), all, Int32(count), CMPI_double(), comm)
        }
        for i in 0..<count {
            var s = 0.0
            for r in 0..<size { s += all[r * count + i] }
            values[i] = s
        }
    }

    public func any(_ flags: Int32) -> Int32 {
        guard size > 1 else { return flags }
        var mine = flags, result: Int32 = 0
        collective("MPI_Allreduce") { MPI_Allreduce(&mine, &result, 1, CMPI_int32(), CMPI_bor(), comm) }
        return result
    }

    public func abort(_ message: String) -> Never {
        FileHandle.standardError.write(Data("error: rank \(rank) of \(size): \(message)\n".utf8))
        _ = MPI_Abort(comm, 1)
        exit(1)
    }

    /// Runs one MPI call under the watchdog; a failure ends the job with the
    /// call's name and MPI's error text.
    private func collective(_ name: String, _ call: () -> Int32) {
        callStarted.store(UInt64(max(monotonicSeconds(), 1) * 1e3), ordering: .relaxed)
        let rc = call()
        callStarted.store(0, ordering: .relaxed)
        if rc != CMPI_success() { abort("\(name) failed: \(Self.errorString(rc))") }
    }

    /// Polls once a second; ends the process (without MPI: the stuck call
    /// holds it) when a collective has waited longer than `timeout`. The
    /// launcher sees a rank exit with an error and ends the others.
    private func startWatchdog() {
        let thread = Thread { [weak self] in
            /// False once the group is finished or gone.
            func check() -> Bool {
                guard let group = self, !group.finished.load(ordering: .relaxed) else { return false }
                let started = Double(group.callStarted.load(ordering: .relaxed)) / 1e3
                if started > 0 && monotonicSeconds() - started > group.timeout {
                    FileHandle.standardError.write(Data(String(format: "error: rank %d of %d: no answer from the other ranks for %.0f s in a cross-process exchange (PTRAIN_MPI_TIMEOUT); a rank has died or hangs. Stopping; the last checkpoint is intact.\n",
                                                               group.rank, group.size, group.timeout).utf8))
                    _exit(3)
                }
                return true
            }
            while check() { Thread.sleep(forTimeInterval: 1) }
        }
        thread.name = "ptrain-mpi-watchdog"
        thread.start()
    }

    private static func errorString(_ code: Int32) -> String {
        var text = [CChar](repeating: 0, count: Int(CMPI_max_error_string()) + 1)
        var length: Int32 = 0
        guard MPI_Error_string(code, &text, &length) == CMPI_success() else { return "MPI error \(code)" }
        return String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self) + " (MPI error \(code))"
    }
}
