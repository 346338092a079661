import FibMath
import Testing

@testable import FibCore

/// A scheduler driven the way the runtime drives it, with a hand-moved clock and a record of
/// the jobs each worker was given (from the start actions), so tests can answer them.
final class SchedulerHarness {
    let scheduler: Scheduler
    var now = Moment(monotonicNanos: 5_000 * nanosPerSecond, wallNanos: 1_800_000_000 * 1_000_000_000)
    /// The jobs each worker was told to start and has not answered, oldest first, as read from the actions.
    private(set) var jobsOf: [WorkerID: [Job]] = [:]
    /// Every action taken so far, oldest first.
    private(set) var actionHistory: [SchedulerAction] = []

    init(limits: SchedulerLimits = SchedulerHarness.baseLimits, firstTaskID: UInt64 = 1) {
        scheduler = Scheduler(limits: limits, firstTaskID: firstTaskID)
    }

    /// The limits tests start from: the defaults, except that no job is trivial, so that every worker runs
    /// one job at a time and the small n the tests use stand for jobs of any length. Tests of pipelining
    /// use ``pipelining`` instead.
    static let baseLimits = limits { _ in }

    /// The defaults as they are, trivial jobs and all.
    static let pipelining = SchedulerLimits()

    static func limits(_ change: (inout SchedulerLimits) -> Void) -> SchedulerLimits {
        var limits = SchedulerLimits()
        limits.trivialJobNanos = 0
        change(&limits)
        return limits
    }

    func advance(seconds: Double) {
        now = now.advanced(byNanos: UInt64(seconds * Double(nanosPerSecond)))
    }

    /// The actions since the last call; start actions are remembered for ``finish(_:digits:)``.
    @discardableResult
    func takeActions() -> [SchedulerAction] {
        let actions = scheduler.takeActions()
        for action in actions {
            switch action {
            case .start(let job, let worker): jobsOf[worker, default: []].append(job)
            case .kill(let worker): jobsOf[worker] = nil
            }
        }
        actionHistory += actions
        return actions
    }

    func ready(_ worker: WorkerID, pid: Int32? = nil) {
        scheduler.workerReady(worker, pid: pid ?? Int32(1000 + worker), now: now)
    }

    /// Submits one task; fails the test (and returns a placeholder-free nil) when refused.
    @discardableResult
    func submit(
        _ n: UInt64, _ algorithm: Algorithm = .fast, priority: Int = 0, timeout seconds: Double? = nil,
        shared: Bool = true, sourceLocation: SourceLocation = #_sourceLocation
    ) -> FibTask? {
        let request = TaskRequest(
            n: n, algorithm: algorithm, priority: priority,
            timeoutNanos: seconds.map { UInt64($0 * Double(nanosPerSecond)) }, shared: shared)
        do {
            let tasks = try scheduler.submit([request], isBatch: false, now: now)
            #expect(tasks.count == 1, sourceLocation: sourceLocation)
            return tasks.first
        } catch {
            Issue.record("submit of n=\(n) refused: \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    /// Answers the oldest job the worker has not answered with `digits` (by default the digits of n itself).
    func finish(_ worker: WorkerID, digits: [UInt8]? = nil, sourceLocation: SourceLocation = #_sourceLocation) {
        guard let job = takeOldestJob(of: worker) else {
            Issue.record("worker \(worker) has no job to answer", sourceLocation: sourceLocation)
            return
        }
        let result = JobResult(digits: digits ?? fakeDigits(job.n), computeNanos: 1, encodeNanos: 1)
        scheduler.jobFinished(worker, job: job.id, outcome: .success(result), now: now)
    }

    func fail(_ worker: WorkerID, message: String) {
        guard let job = takeOldestJob(of: worker) else { return }
        scheduler.jobFinished(worker, job: job.id, outcome: .failure(message), now: now)
    }

    private func takeOldestJob(of worker: WorkerID) -> Job? {
        guard var jobs = jobsOf[worker], !jobs.isEmpty else { return nil }
        let job = jobs.removeFirst()
        jobsOf[worker] = jobs
        return job
    }

    func exited(_ worker: WorkerID, exit: WorkerExit = .signaled(signal: 9)) {
        jobsOf[worker] = nil
        let pid = scheduler.workerRecords.first { $0.id == worker }?.pid ?? Int32(1000 + worker)
        scheduler.workerExited(worker, pid: pid, exit: exit, now: now)
    }

    func tick() { scheduler.tick(now: now) }

    func task(_ id: TaskID?) -> FibTask? { id.flatMap { scheduler.task($0) } }

    func state(_ task: FibTask?) -> TaskState? { task.flatMap { scheduler.task($0.id)?.state } }

    func worker(_ id: WorkerID) -> WorkerRecord? { scheduler.workerRecords.first { $0.id == id } }

    var allTasks: [FibTask] { scheduler.listTasks(states: nil, after: nil, limit: .max).0 }

    func events(after cursor: UInt64 = 0) -> [Event] {
        switch scheduler.events.read(after: cursor, limit: .max) {
        case .events(let events, _): return events
        case .expired: return []
        }
    }
}

/// Stand-in digits for F(n): the scheduler never looks inside them.
func fakeDigits(_ n: UInt64) -> [UInt8] { Array("F\(n)".utf8) }

func digits(count: Int) -> [UInt8] { [UInt8](repeating: UInt8(ascii: "7"), count: count) }

/// The start action's job, if it is one.
func startedJob(_ action: SchedulerAction) -> (job: Job, worker: WorkerID)? {
    if case .start(let job, let worker) = action { return (job, worker) }
    return nil
}

/// Checks the scheduler's running totals against the tasks it lists.
/// - Parameter nothingForgotten: no task was dropped by retention, so the final-state totals must match too.
func expectCountersMatchTasks(
    _ scheduler: Scheduler, nothingForgotten: Bool = true, sourceLocation: SourceLocation = #_sourceLocation
) {
    let mismatches = counterMismatches(scheduler, nothingForgotten: nothingForgotten)
    #expect(mismatches.isEmpty, "\(mismatches)", sourceLocation: sourceLocation)
}

/// How the running totals disagree with the states of the tasks listed (recomputed from scratch).
func counterMismatches(_ scheduler: Scheduler, nothingForgotten: Bool) -> [String] {
    let tasks = scheduler.listTasks(states: nil, after: nil, limit: .max).0
    var byState: [TaskState: Int] = [:]
    for task in tasks { byState[task.state, default: 0] += 1 }
    let counters = scheduler.counters
    let totals: [(TaskState, Int)] = [
        (.queued, counters.queued), (.running, counters.running), (.done, counters.done),
        (.failed, counters.failed), (.cancelled, counters.cancelled), (.timedOut, counters.timedOut),
    ]
    var mismatches: [String] = []
    for (state, total) in totals {
        let listed = byState[state, default: 0]
        // Live tasks are never forgotten; ended ones may be, and the totals keep counting them.
        let agrees = nothingForgotten || !state.isFinal ? total == listed : total >= listed
        if !agrees { mismatches.append("counters say \(total) \(state.rawValue), the tasks \(listed)") }
    }
    if nothingForgotten, counters.submitted != tasks.count {
        mismatches.append("counters say \(counters.submitted) submitted, \(tasks.count) tasks are listed")
    }
    let ended = counters.done + counters.failed + counters.cancelled + counters.timedOut
    if counters.submitted != counters.queued + counters.running + ended {
        mismatches.append("submitted \(counters.submitted) != queued + running + ended")
    }
    return mismatches
}

/// A small seeded generator, so a failing random run can be replayed exactly.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var mixed = state
        mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
        mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
        return mixed ^ (mixed >> 31)
    }
}
