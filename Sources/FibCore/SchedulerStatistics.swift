/// Running totals the status views and /metrics read; kept as the scheduler works, so reading them costs nothing.
public struct SchedulerCounters: Sendable, Equatable {
    public var submitted = 0
    /// Tasks that joined a computation already queued or running.
    public var deduplicated = 0
    public var done = 0
    public var failed = 0
    public var cancelled = 0
    public var timedOut = 0
    public var requeued = 0
    public var workerRestarts = 0
    public var queued = 0
    public var running = 0

    public init() {}
}

/// A Prometheus-style histogram of task durations, in seconds.
public struct DurationHistogram: Sendable {
    /// Upper bounds of the buckets, in seconds; the last bucket (+Inf) is implicit.
    public static let bounds: [Double] = [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 300, 3600]

    /// Cumulative counts per bound, as Prometheus wants them.
    public private(set) var cumulativeCounts = [Int](repeating: 0, count: DurationHistogram.bounds.count)
    public private(set) var count = 0
    public private(set) var sumSeconds = 0.0

    public init() {}

    public mutating func record(nanos: UInt64) {
        let seconds = Double(nanos) / Double(nanosPerSecond)
        count += 1
        sumSeconds += seconds
        for (index, bound) in Self.bounds.enumerated() where seconds <= bound {
            cumulativeCounts[index] += 1
        }
    }
}

/// Counts events per second over the last minute, for throughput figures.
public struct RecentRate: Sendable {
    private var buckets = [Int](repeating: 0, count: 60)
    private var bucketSecond = [UInt64](repeating: 0, count: 60)

    public init() {}

    public mutating func record(at now: Moment, count: Int = 1) {
        let second = now.monotonicNanos / nanosPerSecond
        let index = Int(second % 60)
        if bucketSecond[index] != second {
            bucketSecond[index] = second
            buckets[index] = 0
        }
        buckets[index] += count
    }

    /// Events in the 60 seconds up to `now`.
    public func lastMinute(at now: Moment) -> Int {
        let second = now.monotonicNanos / nanosPerSecond
        var total = 0
        for index in 0..<60 where bucketSecond[index] + 60 > second && bucketSecond[index] <= second {
            total += buckets[index]
        }
        return total
    }
}
