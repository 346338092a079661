import FibCore

/// What a pool slot is doing.
public enum WorkerState: String, Sendable, CaseIterable {
    /// Its process was spawned and has not said hello yet.
    case starting
    /// Ready for a job.
    case idle
    /// Running a job.
    case busy
    /// Its process is dying, being reaped, or waiting (with backoff) to be spawned again.
    case restarting
}

/// One slot of the pool as `WorkerPool.snapshot()` saw it.
public struct WorkerInfo: Sendable, Equatable {
    public var id: WorkerID
    /// The live process; nil while the slot is restarting.
    public var pid: Int32?
    public var state: WorkerState
    /// The job the slot runs (or ran when its process died, until the exit is reported).
    public var jobID: UInt64?
    /// When the current process was spawned, CLOCK_MONOTONIC nanoseconds; nil while restarting.
    public var spawnedAtNanos: UInt64?
    /// How many times the slot's process was replaced.
    public var restarts: Int
    /// Bytes of complete frames received from the slot's processes, over its whole life.
    public var bytesReceived: UInt64
    /// User + system CPU time of the current process; nil if there is none or /proc would not say.
    public var cpuSeconds: Double?
    /// Resident memory of the current process; nil if there is none or /proc would not say.
    public var residentBytes: UInt64?

    public init(
        id: WorkerID,
        pid: Int32?,
        state: WorkerState,
        jobID: UInt64?,
        spawnedAtNanos: UInt64?,
        restarts: Int,
        bytesReceived: UInt64,
        cpuSeconds: Double?,
        residentBytes: UInt64?
    ) {
        self.id = id
        self.pid = pid
        self.state = state
        self.jobID = jobID
        self.spawnedAtNanos = spawnedAtNanos
        self.restarts = restarts
        self.bytesReceived = bytesReceived
        self.cpuSeconds = cpuSeconds
        self.residentBytes = residentBytes
    }
}
