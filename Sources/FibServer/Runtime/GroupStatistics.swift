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

    /// A group's name: the algorithm and the decade of n, e.g. `fast/1e4` for 10^4 <= n < 10^5.
    static func group(n: UInt64, algorithm: Algorithm) -> String {
        var decade = 0
        var rest = n
        while rest >= 10 {
            rest /= 10
            decade += 1
        }
        return "\(algorithm.rawValue)/1e\(decade)"
    }

    private(set) var groups: [String: Figures] = [:]
    /// Tasks not yet ended: their group, whether they run, when they were submitted (bounded by the live tasks).
    private var live: [TaskID: (group: String, running: Bool, submittedWall: Int64)] = [:]
    /// The seq of the last event folded in.
    private(set) var foldedHead: UInt64 = 0

    /// Folds in the events of `log` not seen yet.
    mutating func fold(_ log: EventLog) {
        guard log.head != foldedHead else { return }
        let from = max(foldedHead, log.oldest &- 1)
        guard case .events(let events, let next) = log.read(after: from, limit: Int(log.head - from)) else { return }
        for event in events { fold(event) }
        foldedHead = next
    }

    private mutating func fold(_ event: Event) {
        guard let id = event.task else { return }
        switch event.kind {
        case .taskSubmitted:
            guard let n = event.n, let algorithm = event.algorithm else { return }
            let name = Self.group(n: n, algorithm: algorithm)
            live[id] = (name, false, event.wallNanos)
            groups[name, default: Figures()].queued += 1
        case .taskStarted:
            guard var entry = live[id], !entry.running else { return }
            entry.running = true
            live[id] = entry
            groups[entry.group, default: Figures()].queued -= 1
            groups[entry.group, default: Figures()].running += 1
            groups[entry.group, default: Figures()].queuedNanos += UInt64(max(0, event.wallNanos - entry.submittedWall))
        case .taskRequeued:
            guard var entry = live[id], entry.running else { return }
            entry.running = false
            live[id] = entry
            groups[entry.group, default: Figures()].running -= 1
            groups[entry.group, default: Figures()].queued += 1
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
        let name = Self.group(n: key.n, algorithm: key.algorithm)
        var figures = groups[name, default: Figures()]
        figures.computations += 1
        figures.computeNanos += result.computeNanos
        figures.encodeNanos += result.encodeNanos
        let worked = result.computeNanos &+ result.encodeNanos
        figures.sendNanos += elapsedNanos > worked ? elapsedNanos - worked : 0
        groups[name] = figures
    }
}
