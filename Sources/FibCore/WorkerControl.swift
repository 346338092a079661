import FibMath

/// Identifies a worker slot in the pool. A slot keeps its id across respawns;
/// the process behind it (its pid) changes.
public typealias WorkerID = Int

/// One unit of work sent to a worker: compute F(n) with `algorithm` and encode it in decimal.
public struct Job: Sendable, Hashable {
    /// Unique per dispatch, so that a late answer to a cancelled job is recognised and dropped.
    public var id: UInt64
    public var n: UInt64
    public var algorithm: Algorithm

    public init(id: UInt64, n: UInt64, algorithm: Algorithm) {
        self.id = id
        self.n = n
        self.algorithm = algorithm
    }
}

/// What a worker computed: the exact decimal digits (ASCII) and where its time went.
public struct JobResult: Sendable {
    public var digits: [UInt8]
    public var computeNanos: UInt64
    public var encodeNanos: UInt64

    public init(digits: [UInt8], computeNanos: UInt64, encodeNanos: UInt64) {
        self.digits = digits
        self.computeNanos = computeNanos
        self.encodeNanos = encodeNanos
    }
}

/// The answer of a worker to a job.
public enum JobOutcome: Sendable {
    case success(JobResult)
    /// The worker refused or could not compute the job (for example n out of range).
    case failure(String)
}

/// A worker's answer to one of its jobs.
public struct JobAnswer: Sendable {
    public var job: UInt64
    public var outcome: JobOutcome

    public init(job: UInt64, outcome: JobOutcome) {
        self.job = job
        self.outcome = outcome
    }
}

/// How a worker process ended.
public enum WorkerExit: Sendable, Hashable, CustomStringConvertible {
    case exited(code: Int32)
    case signaled(signal: Int32)

    public var description: String {
        switch self {
        case .exited(let code): return "worker exited with status \(code)"
        case .signaled(let signal): return "worker killed by signal \(signal) (\(signalName(signal)))"
        }
    }
}

/// The conventional name of a Linux signal number, for messages a user reads.
public func signalName(_ signal: Int32) -> String {
    let names: [Int32: String] = [
        1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 5: "SIGTRAP", 6: "SIGABRT",
        7: "SIGBUS", 8: "SIGFPE", 9: "SIGKILL", 10: "SIGUSR1", 11: "SIGSEGV", 12: "SIGUSR2",
        13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 24: "SIGXCPU", 25: "SIGXFSZ", 31: "SIGSYS",
    ]
    return names[signal] ?? "signal \(signal)"
}

/// The commands the scheduler's runtime gives the worker pool.
///
/// Implemented by FibWorkers' `WorkerPool`. Every call is made on the event loop
/// that the pool was created with.
public protocol WorkerPoolControl: AnyObject {
    /// Sends `job` to the worker, which must have reported ready. A worker may be sent several jobs before
    /// it answers (the scheduler does so only with trivial jobs); it runs and answers them in the order
    /// they were sent.
    func start(_ job: Job, on worker: WorkerID)
    /// SIGKILLs the worker's process; the pool reaps it and respawns the slot
    /// without backoff, then reports `workerExited` and later `workerReady`. Every job the
    /// worker was sent and had not answered is lost with it.
    func kill(_ worker: WorkerID)
}

/// What the worker pool reports. Every call is made on the pool's event loop.
public protocol WorkerPoolDelegate: AnyObject {
    /// A (re)spawned worker answered its hello and can take a job.
    func workerReady(_ worker: WorkerID, pid: Int32)
    /// The worker answered its oldest unanswered job; it is idle again once it has answered them all.
    func jobFinished(_ worker: WorkerID, job: UInt64, outcome: JobOutcome)
    /// The worker answered its oldest unanswered jobs, in order: the answers read from it at once. A delegate
    /// may handle them together (one turn of bookkeeping for a burst of trivial answers).
    func jobsFinished(_ worker: WorkerID, answers: [JobAnswer])
    /// The worker's process ended and was reaped (no zombie is left). The pool
    /// respawns the slot itself (with backoff after crashes it did not cause).
    func workerExited(_ worker: WorkerID, pid: Int32, exit: WorkerExit)
}

extension WorkerPoolDelegate {
    public func jobsFinished(_ worker: WorkerID, answers: [JobAnswer]) {
        for answer in answers { jobFinished(worker, job: answer.job, outcome: answer.outcome) }
    }
}

/// What the pool measures of one worker slot, for the workers and status views.
public struct WorkerSample: Sendable {
    public enum State: String, Sendable {
        case starting
        case idle
        case busy
        case restarting
    }

    public var id: WorkerID
    public var pid: Int32?
    public var state: State
    public var cpuSeconds: Double
    public var rssBytes: Int
    /// Bytes read from the worker's socket since the slot was created.
    public var bytesReceived: Int

    public init(id: WorkerID, pid: Int32?, state: State, cpuSeconds: Double, rssBytes: Int, bytesReceived: Int) {
        self.id = id
        self.pid = pid
        self.state = state
        self.cpuSeconds = cpuSeconds
        self.rssBytes = rssBytes
        self.bytesReceived = bytesReceived
    }
}
