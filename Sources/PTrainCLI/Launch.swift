import Foundation
import PTrain
import PTrainRuntime
#if PTRAIN_MPI
import PTrainMPI
#endif

/// How this process was started: alone, or as one rank of an MPI job.
enum Launch {
    /// The job's processes: an MPI group when an MPI launcher started this
    /// process (and ptrain was built with MPI), else a single process. A
    /// build without MPI refuses to run as one of several ranks, which would
    /// otherwise each train alone and write over each other's run.
    static func processGroup() throws -> ProcessGroup {
        let environment = ProcessInfo.processInfo.environment
        #if PTRAIN_MPI
        if MPIProcessGroup.launcherVariables.contains(where: { environment[$0] != nil }) {
            return try MPIProcessGroup()
        }
        #else
        for key in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"] {
            if let text = environment[key], let n = Int(text), n > 1 {
                throw RunError("this ptrain was built without MPI, but it was started as one of \(n) processes of an MPI job (\(key)=\(text)); build it with `PTRAIN_MPI=1 swift build -c release --scratch-path .build-mpi` (README: Past one machine)")
            }
        }
        #endif
        return SingleProcess()
    }

    /// Ends the job's MPI use after a successful command.
    static func finish(_ group: ProcessGroup) {
        #if PTRAIN_MPI
        (group as? MPIProcessGroup)?.finalize()
        #endif
    }
}

/// `reportingErrors` for a command that runs as every rank of a job: a rank
/// that fails reports its error with its rank and ends the whole job, so the
/// others do not wait for it forever.
func reportingErrors<T>(in group: ProcessGroup, _ body: () throws -> T) throws -> T {
    guard group.size > 1 else { return try reportingErrors(body) }
    do {
        return try body()
    } catch {
        group.abort(String(describing: error))
    }
}
