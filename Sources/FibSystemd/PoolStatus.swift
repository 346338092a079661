/// What the pool is doing, as the one-line STATUS= that `systemctl status fibd` shows.
public struct PoolStatus: Sendable, Equatable {
    public var workers: Int
    public var running: Int
    public var queued: Int
    public var done: Int

    public init(workers: Int, running: Int, queued: Int, done: Int) {
        self.workers = workers
        self.running = running
        self.queued = queued
        self.done = done
    }

    /// For example "2 workers, 1 running, 3 queued, 120 done".
    public var text: String {
        "\(workers) \(workers == 1 ? "worker" : "workers"), \(running) running, \(queued) queued, \(done) done"
    }
}
