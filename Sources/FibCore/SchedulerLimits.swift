import FibMath

/// The bounds the scheduler keeps. Every queue and store it owns has one.
public struct SchedulerLimits: Sendable, Equatable {
    /// The largest n accepted for `fast`.
    public var maxN: UInt64 = 10_000_000
    /// Tasks waiting for a worker; a submit beyond it is refused (503).
    public var maxQueue: Int = 100_000
    /// Tasks in one batch submit.
    public var maxBatch: Int = 1000
    public var defaultTimeoutNanos: UInt64 = 300 * nanosPerSecond
    public var maxTimeoutNanos: UInt64 = 3600 * nanosPerSecond
    /// Times a computation is given to a worker before its tasks fail (a worker died each time).
    public var maxAttempts: Int = 3
    /// Bytes of results kept for reuse by later submits.
    public var cacheBytes: Int = 256 << 20
    /// Finished tasks are forgotten after this long...
    public var retainNanos: UInt64 = 3600 * nanosPerSecond
    /// ...or when more than this many are kept...
    public var retainCount: Int = 100_000
    /// ...or when their results add up to more than this.
    public var retainBytes: Int = 1 << 30
    /// Events kept for the feed; a cursor older than these must resync.
    public var eventLogCapacity: Int = 65_536
    /// Bytes of results carried inline by `task.done` events, in all.
    public var eventLogResultBytes: Int = 16 << 20
    /// Jobs a worker may be given at once. Past the first, only trivial jobs (see ``trivialJobNanos``) queue
    /// behind a busy worker, so that one frame write and one wake-up each way serve many of them; 1 turns
    /// this pipelining off.
    public var maxJobsPerWorker: Int = 32
    /// A job whose estimated cost (`Fibonacci.estimatedNanos`) is at most this is trivial: well under
    /// what a round trip to a worker costs (two wake-ups, 20-25 µs each), so queueing it behind other
    /// trivial jobs delays nobody noticeably. Anything dearer goes only to an idle worker.
    public var trivialJobNanos: UInt64 = 10_000

    public init() {}

    /// Whether F(n) with `algorithm` is a trivial job under ``trivialJobNanos``.
    public func isTrivial(n: UInt64, algorithm: Algorithm) -> Bool {
        Fibonacci.estimatedNanos(n, algorithm: algorithm) <= trivialJobNanos
    }
}

/// Priorities a task may ask for; higher runs first.
public let taskPriorityRange: ClosedRange<Int> = -1000...1000
