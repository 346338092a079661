import FibMath

/// A task as clients see it: what was asked, where it is, and once it ends, its answer.
public struct FibTask: Sendable {
    public var id: TaskID
    public var n: UInt64
    public var algorithm: Algorithm
    public var priority: Int
    public var timeoutNanos: UInt64
    /// false: computed on its own, never coalesced with identical tasks nor answered from the cache.
    public var shared: Bool
    public var state: TaskState
    /// How many times a worker was given this task's computation while the task waited for it.
    public var attempts: Int
    public var submittedAt: Int64
    public var startedAt: Int64?
    public var finishedAt: Int64?
    /// The pid of the worker that runs (or ran) it.
    public var workerPID: Int32?
    /// Answered from the result cache, without computing.
    public var cached: Bool
    /// The exact decimal digits, once done. Shared with the cache and other tasks, not copied.
    public var result: [UInt8]?
    /// Why it failed, timed out or was cancelled.
    public var error: String?

    public init(
        id: TaskID, n: UInt64, algorithm: Algorithm, priority: Int, timeoutNanos: UInt64, state: TaskState,
        attempts: Int, submittedAt: Int64, startedAt: Int64? = nil, finishedAt: Int64? = nil, workerPID: Int32? = nil,
        cached: Bool = false, result: [UInt8]? = nil, error: String? = nil, shared: Bool = true
    ) {
        self.id = id
        self.n = n
        self.algorithm = algorithm
        self.priority = priority
        self.timeoutNanos = timeoutNanos
        self.shared = shared
        self.state = state
        self.attempts = attempts
        self.submittedAt = submittedAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.workerPID = workerPID
        self.cached = cached
        self.result = result
        self.error = error
    }

    /// Seconds from start to finish, once both are known.
    public var durationNanos: UInt64? {
        guard let startedAt, let finishedAt, finishedAt >= startedAt else { return nil }
        return UInt64(finishedAt - startedAt)
    }
}
