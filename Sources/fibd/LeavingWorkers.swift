import FibCore
import FibServer
import FibWorkers

/// Stands between the worker pool and the runtime while the pool shrinks (reload).
///
/// The scheduler forgets a slot at `workerRemoved`, and then ignores whatever that slot reports.
/// A busy slot the pool takes away still has to report its job, and the scheduler may hand a
/// leaving slot one more job before it is gone; so the removal is held back until the slot's
/// process has exited and that exit was reported (which requeues such a job instead of losing it).
///
/// Confined to the pool's event loop, like the pool and the runtime's delegate calls.
final class LeavingWorkers: WorkerPoolDelegate, @unchecked Sendable {
    private let runtime: TaskRuntime
    private var leaving: Set<WorkerID> = []

    init(runtime: TaskRuntime) {
        self.runtime = runtime
    }

    /// Resizes the pool and tells the runtime, on the pool's loop.
    func resize(_ pool: WorkerPool, to count: Int) {
        let removed = pool.resize(to: count)
        let remaining = Set(pool.snapshot().map(\.id))
        for worker in removed {
            if remaining.contains(worker) {
                leaving.insert(worker)
            } else {
                // It had no process: nothing more will be reported for it.
                runtime.workerRemoved(worker)
            }
        }
    }

    func workerReady(_ worker: WorkerID, pid: Int32) {
        runtime.workerReady(worker, pid: pid)
    }

    func jobFinished(_ worker: WorkerID, job: UInt64, outcome: JobOutcome) {
        runtime.jobFinished(worker, job: job, outcome: outcome)
    }

    func workerExited(_ worker: WorkerID, pid: Int32, exit: WorkerExit) {
        runtime.workerExited(worker, pid: pid, exit: exit)
        if leaving.remove(worker) != nil {
            runtime.workerRemoved(worker)
        }
    }
}
