import FibCore
import FibServer
import FibSystemd
import Logging
import NIOCore
import Synchronization

/// Keeps systemd's STATUS= line current, and logs each task's start.
///
/// It follows the scheduler's event log with a long-poll, so an idle daemon costs nothing: after
/// each batch of events it reads the counters and sends STATUS= if the line changed, at most once
/// per ``minimumInterval``.
final class PoolStatusReporter: Sendable {
    static let minimumInterval: Duration = .milliseconds(100)
    /// The longest wait for an event before the counters are read anyway.
    static let longPoll: TimeAmount = .seconds(30)
    static let eventBatch = 1000

    private let runtime: TaskRuntime
    private let notifier: ServiceNotifier
    private let logger: Logger
    private let finished = Atomic<Bool>(false)

    /// Whether ``run()`` has returned.
    var isFinished: Bool { finished.load(ordering: .acquiring) }

    init(runtime: TaskRuntime, notifier: ServiceNotifier, logger: Logger) {
        self.runtime = runtime
        self.notifier = notifier
        self.logger = logger
    }

    /// Runs until its task is cancelled (the cancellation takes effect when the long-poll is answered:
    /// the daemon's stop answers every long-poll).
    func run(enabled: Bool) async {
        defer { finished.store(true, ordering: .releasing) }
        guard enabled else { return }
        var last: PoolStatus?
        var cursor: UInt64?
        while !Task.isCancelled {
            let started = ContinuousClock.now
            guard let snapshot = try? await runtime.snapshot().get() else { return }
            let status = PoolStatus(
                workers: snapshot.expectedWorkers, running: snapshot.counters.running,
                queued: snapshot.counters.queued, done: snapshot.counters.done)
            if status != last, notifier.isEnabled {
                notifier.send(.status(status.text))
            }
            last = status
            if cursor == nil { cursor = snapshot.eventHead }
            guard
                let (read, _) = try? await runtime.events(
                    after: cursor, limit: Self.eventBatch, wait: Self.longPoll
                ).get()
            else { return }
            switch read {
            case .events(let events, let next):
                cursor = next
                events.forEach(logStart)
            case .expired(let head):
                cursor = head
            }
            try? await Task.sleep(until: started + Self.minimumInterval)
        }
    }

    /// The runtime logs how a task ends; its start is known from the event log.
    private func logStart(_ event: Event) {
        guard event.kind == .taskStarted, let task = event.task else { return }
        var metadata: Logger.Metadata = ["task": "\(task)"]
        if let n = event.n { metadata["n"] = "\(n)" }
        if let algorithm = event.algorithm { metadata["algorithm"] = "\(algorithm.rawValue)" }
        if let pid = event.workerPID { metadata["worker_pid"] = "\(pid)" }
        if let attempt = event.attempt { metadata["attempt"] = "\(attempt)" }
        logger.debug("task started", metadata: metadata)
    }
}
