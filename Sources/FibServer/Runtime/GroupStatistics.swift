import FibCore
import FibMath

/// Tasks grouped by algorithm and order of magnitude of n (the status pages' "groups" and "keys"), with the
/// time each group spent queued, computing, encoding and sending. Fed from the event log as it grows, so a
/// reader costs one walk over the groups; confined to the runtime's event loop.
struct GroupStatistics {
    /// What one group has seen; times are sums in nanoseconds.
    struct Figures {
        var queued = 0
        var running = 0
        var done = 0
        var failed = 0
        var cancelled = 0
        var timedOut = 0
        var computations = 0
        var queuedNanos: UInt64 = 0
        var computeNanos: UInt64 = 0
        var encodeNanos: UInt64 = 0
        var sendNanos: UInt64 = 0
    }

    /// A group: the algorithm and the decade of n. A small value rather than its name, so that folding in the
    /// events of a busy daemon (three per task) neither builds nor hashes a string.
    struct Group: Hashable {
        var algorithm: Algorithm
        var decade: UInt8

        init(n: UInt64, algorithm: Algorithm) {
            var decade: UInt8 = 0
            var rest = n
            while rest >= 10 {
                rest /= 10
                decade += 1
            }
            self.algorithm = algorithm
            self.decade = decade
        }

        /// E.g. `fast/1e4` for 10^4 <= n < 10^5.
        var name: String { "\(algorithm.rawValue)/1e\(decade)" }
    }

    /// A task not yet ended: its group, whether it runs, when it was submitted.
    private struct LiveTask {
        var group: Group
        var running: Bool
        var submittedWall: Int64
    }

    private(set) var groups: [Group: Figures] = [:]
    /// Tasks not yet ended (bounded by the live tasks).
    private var live: [TaskID: LiveTask] = [:]
    /// The seq of the last event folded in.
    private(set) var foldedHead: UInt64 = 0

    /// Folds in the events of `log` not seen yet.
    mutating func fold(_ log: EventLog) {
        guard log.head != foldedHead else { return }
        foldedHead = log.forEach(after: foldedHead) { event in fold(event) }
    }

    private mutating func fold(_ event: borrowing Event) {
        guard let id = event.task else { return }
        switch event.kind {
        case .taskSubmitted:
            guard let n = event.n, let algorithm = event.algorithm else { return }
            let group = Group(n: n, algorithm: algorithm)
            live[id] = LiveTask(group: group, running: false, submittedWall: event.wallNanos)
            groups[group, default: Figures()].queued += 1
        case .taskStarted:
            guard let index = live.index(forKey: id), !live.values[index].running else { return }
            live.values[index].running = true
            let entry = live.values[index]
            var figures = groups[entry.group, default: Figures()]
            figures.queued -= 1
            figures.running += 1
            figures.queuedNanos += UInt64(max(0, event.wallNanos - entry.submittedWall))
            groups[entry.group] = figures
        case .taskRequeued:
            guard let index = live.index(forKey: id), live.values[index].running else { return }
            live.values[index].running = false
            let group = live.values[index].group
            groups[group, default: Figures()].running -= 1
            groups[group, default: Figures()].queued += 1
        case .taskDone, .taskFailed, .taskCancelled, .taskTimedOut:
            guard let entry = live.removeValue(forKey: id) else { return }
            var figures = groups[entry.group, default: Figures()]
            if entry.running { figures.running -= 1 } else { figures.queued -= 1 }
            switch event.kind {
            case .taskDone: figures.done += 1
            case .taskFailed: figures.failed += 1
            case .taskCancelled: figures.cancelled += 1
            default: figures.timedOut += 1
            }
            groups[entry.group] = figures
        case .workerReady, .workerExited:
            break
        }
    }

    /// Where a finished computation's time went: `elapsedNanos` is from its start to its answer here.
    mutating func recordComputation(_ key: ComputationKey, result: JobResult, elapsedNanos: UInt64) {
        let group = Group(n: key.n, algorithm: key.algorithm)
        var figures = groups[group, default: Figures()]
        figures.computations += 1
        figures.computeNanos += result.computeNanos
        figures.encodeNanos += result.encodeNanos
        let worked = result.computeNanos &+ result.encodeNanos
        figures.sendNanos += elapsedNanos > worked ? elapsedNanos - worked : 0
        groups[group] = figures
    }
}
