import FibMath

/// What a client asks for in one task.
public struct TaskRequest: Sendable, Equatable {
    public var n: UInt64
    public var algorithm: Algorithm
    public var priority: Int
    /// nil: the server's default.
    public var timeoutNanos: UInt64?
    /// false: the task gets a computation of its own (Dask's `pure=False`): it joins no identical queued or
    /// running computation, none joins it, and it is not answered from the result cache.
    public var shared: Bool

    public init(
        n: UInt64, algorithm: Algorithm = .default, priority: Int = 0, timeoutNanos: UInt64? = nil, shared: Bool = true
    ) {
        self.n = n
        self.algorithm = algorithm
        self.priority = priority
        self.timeoutNanos = timeoutNanos
        self.shared = shared
    }

    /// Why this request cannot be accepted under `limits`, as "<member> must ..." text; nil if it can.
    public func problem(under limits: SchedulerLimits) -> String? {
        switch algorithm {
        case .fast where n > limits.maxN:
            return "n must be an integer from 0 to \(limits.maxN)"
        case .recursive where n > Fibonacci.maxRecursiveN:
            return "n must be at most \(Fibonacci.maxRecursiveN) for the recursive algorithm "
                + "(F(n) must fit in 64 bits); use fast"
        default:
            break
        }
        if !taskPriorityRange.contains(priority) {
            return "priority must be an integer from \(taskPriorityRange.lowerBound) to \(taskPriorityRange.upperBound)"
        }
        if let timeoutNanos, timeoutNanos == 0 || timeoutNanos > limits.maxTimeoutNanos {
            return "timeout must be more than 0 and at most \(limits.maxTimeoutNanos / nanosPerSecond) seconds"
        }
        return nil
    }
}

/// Why a submit was refused as a whole.
public enum SubmitRefusal: Error, Sendable, Equatable {
    /// The queue would exceed its bound; try again later.
    case queueFull(limit: Int)
    /// The daemon is draining and takes no new work.
    case shuttingDown
    /// A batch with more tasks than allowed, or none.
    case batchSize(count: Int, limit: Int)
    /// One request is invalid; `index` is its place in a batch (nil for a single task).
    case invalid(index: Int?, message: String)
}
