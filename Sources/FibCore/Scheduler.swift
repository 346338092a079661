import FibMath

/// What the scheduler asks of the worker pool.
public enum SchedulerAction: Sendable, Equatable {
    case start(Job, on: WorkerID)
    case kill(WorkerID)
}

/// The result of a cancel request.
public enum CancelOutcome: Sendable {
    case cancelled(FibTask)
    case alreadyEnded(FibTask)
    case notFound
}

/// A worker as the scheduler knows it.
public struct WorkerRecord: Sendable {
    public enum State: String, Sendable {
        case idle
        case busy
        /// Killed or dead, waiting for its replacement to say hello.
        case restarting
    }

    public var id: WorkerID
    public var pid: Int32?
    public var state: State
    /// Jobs sent and not answered yet, oldest first. The worker answers them in order, so the first is
    /// the one it runs. More than one only when all are trivial (the scheduler's pipelining).
    public internal(set) var jobs: [JobInFlight] = []
    /// The job it runs: the oldest it was sent and has not answered.
    public var job: UInt64? { jobs.first?.id }
    /// The computation of that job; nil when nobody waits for it any more (a trivial job whose tasks ended).
    public var computation: ComputationKey? { jobs.first?.computation }
    /// The first live task of the computation it runs.
    public var task: TaskID?
    public var done = 0
    public var failed = 0
    public var restarts = 0
    public var readyAt: Int64?
    /// The pool is taking this slot away (it shrinks): no new job goes to it, and its record
    /// goes once its process has exited.
    public var isLeaving = false

    /// Whether a trivial job may queue behind the ones it has: a non-trivial job is always alone.
    var runsOnlyTrivialJobs: Bool { jobs.first?.isTrivial ?? true }
}

/// A job a worker was sent and has not answered.
public struct JobInFlight: Sendable, Equatable {
    public var id: UInt64
    /// What it computes; nil once abandoned: every task that waited for it ended (cancelled or timed out)
    /// while it was trivial, so it was left to finish rather than killed, and its answer is dropped.
    public var computation: ComputationKey?
    /// Trivial by ``SchedulerLimits/isTrivial(n:algorithm:)`` when it was sent.
    public var isTrivial: Bool
}

/// The heart of fibd: tasks, their state machine, the run queue, coalescing of identical
/// tasks, the result cache, timeouts, retries, retention, and the event log.
///
/// Identical tasks (same n and algorithm) queued or running at once share one computation, and a task whose
/// result is cached is answered from the cache. A task submitted unshared (``TaskRequest/shared`` false) gets
/// a computation of its own, keyed by its id (``ComputationKey/unsharedTask``): it joins none, none joins it,
/// and it is never answered from the cache; its result still fills the cache for later shared tasks.
///
/// A worker runs one job at a time, but trivial jobs (estimated well under the cost of a round trip to a
/// worker, ``SchedulerLimits/trivialJobNanos``) may be sent to a busy worker that runs only trivial ones,
/// up to ``SchedulerLimits/maxJobsPerWorker``, so that one frame write and one wake-up each way serve many
/// of them. Any other job goes only to an idle worker and nothing is ever queued behind it: a long job never
/// holds up a short one, and long jobs spread over all workers. The queue's order holds across both kinds:
/// a job starts only when every job before it has started. A pipelined job is running from when it is sent,
/// so its timeout counts from then.
///
/// Cancelling or timing out the last task of a running job SIGKILLs its worker (`kill`) when the job is
/// not trivial, freeing the CPU at once; a trivial job is left to finish (it costs microseconds) and its
/// answer is dropped. A worker that dies with several jobs: all are queued again, and only the oldest (the
/// one it was running) counts as an attempt.
///
/// Pure and deterministic: it reads no clock (each call is handed `now`) and does no I/O.
/// What it wants done to workers comes out of ``takeActions()``; the tasks that ended out
/// of ``takeEndedTasks()``. One owner calls it from one thread.
public final class Scheduler {
    private struct Computation {
        var key: ComputationKey
        var priority: Int
        /// Order of first submission: FIFO within a priority, kept when requeued.
        var seq: UInt64
        /// Cheap enough to queue behind other trivial jobs on a busy worker.
        var isTrivial: Bool
        /// Bumped whenever the computation's place in the queue changes; older queue entries are stale.
        var version: UInt64 = 0
        /// Tasks still waiting for this computation (queued or running), in submission order.
        var members: [TaskID] = []
        var attempts = 0
        var worker: WorkerID?
        var job: UInt64?
        var startedAt: Moment?
    }

    private struct QueueEntry: Comparable {
        var priority: Int
        var seq: UInt64
        var version: UInt64
        var key: ComputationKey

        static func < (lhs: QueueEntry, rhs: QueueEntry) -> Bool {
            lhs.priority != rhs.priority ? lhs.priority > rhs.priority : lhs.seq < rhs.seq
        }
        static func == (lhs: QueueEntry, rhs: QueueEntry) -> Bool {
            lhs.priority == rhs.priority && lhs.seq == rhs.seq && lhs.version == rhs.version && lhs.key == rhs.key
        }
    }

    /// What ``finish(_:as:result:error:now:)`` takes from a task it ends, for the counters and the event.
    private struct EndedTask {
        var previous: TaskState
        var n: UInt64
        var algorithm: Algorithm
        var workerPID: Int32?
        var attempts: Int
        var durationNanos: UInt64?
        var cached: Bool
    }

    private struct Deadline: Comparable {
        var monotonicNanos: UInt64
        var task: TaskID

        static func < (lhs: Deadline, rhs: Deadline) -> Bool {
            (lhs.monotonicNanos, lhs.task) < (rhs.monotonicNanos, rhs.task)
        }
    }

    public private(set) var limits: SchedulerLimits
    public private(set) var cache: ResultCache
    public private(set) var events: EventLog
    public private(set) var counters = SchedulerCounters()
    public private(set) var durations = DurationHistogram()
    public private(set) var completions = RecentRate()
    /// True once ``beginDraining()`` was called: submits are refused.
    public private(set) var isDraining = false

    private var nextTaskID: UInt64
    private var nextJobID: UInt64 = 1
    private var nextSeq: UInt64 = 0
    private var tasks = TaskTable()
    /// Task ids in submission order (ids increase), for listing; forgotten ids are dropped lazily.
    private var taskOrder: [TaskID] = []
    private var computationOf: [TaskID: ComputationKey] = [:]
    private var computations: [ComputationKey: Computation] = [:]
    private var runQueue = BinaryHeap<QueueEntry>()
    private var deadlines = BinaryHeap<Deadline>()
    private var deadlineOf: [TaskID: UInt64] = [:]
    private var workers: [WorkerID: WorkerRecord] = [:]
    private var finishedOrder: [(task: TaskID, monotonicNanos: UInt64)] = []
    private var finishedOrderStart = 0
    private var retainedBytes = 0
    private var actions: [SchedulerAction] = []
    private var endedTasks: [TaskID] = []
    /// What changed since the last ``takeChanges()``, while ``recordsChanges`` is on.
    private var changedTasks: [TaskID] = []
    private var changedTaskSet: Set<TaskID> = []
    private var forgottenTasks: [TaskID] = []
    private var newEvents: [Event] = []

    /// Keep a record of every change for a durable store, to be taken with ``takeChanges()`` after each
    /// command. Off by default: nobody would empty the record.
    public var recordsChanges = false

    /// - Parameter firstTaskID: the number of the first task id; the caller makes ids unique across runs.
    public init(limits: SchedulerLimits, firstTaskID: UInt64) {
        self.limits = limits
        self.nextTaskID = firstTaskID
        self.cache = ResultCache(capacityBytes: limits.cacheBytes)
        self.events = EventLog(capacity: limits.eventLogCapacity, maxInlineResultBytes: limits.eventLogResultBytes)
    }

    /// Takes back the state a store kept from an earlier run; call it once, on a new scheduler, before any
    /// worker reports. Finished tasks keep their results (which also fill the result cache) and are forgotten
    /// when their retention runs out, counted from when they finished. Queued tasks are queued again in their
    /// old order. Running tasks were cut off by the stop: they are queued again with that attempt counted,
    /// or fail if it was their last. Ids and event seqs continue after the stored ones.
    ///
    /// Restored tasks count in ``counters`` as submitted and in their state. What restoring changes (the
    /// requeued and failed tasks, their events) is recorded for ``takeChanges()``.
    @discardableResult
    public func restore(_ state: StoredState, now: Moment) -> RestoreSummary {
        var summary = RestoreSummary()
        nextTaskID = max(nextTaskID, state.nextTaskID)
        events.restore(state.events, head: state.eventHead)
        let stored = state.tasks.sorted { $0.id < $1.id }
        if let last = stored.last { nextTaskID = max(nextTaskID, last.id.rawValue &+ 1) }
        var finished: [FibTask] = []
        var cutOff: [TaskID] = []
        for var task in stored where !tasks.contains(task.id) {
            counters.submitted += 1
            if task.state.isFinal {
                tasks[task.id] = task
                taskOrder.append(task.id)
                finished.append(task)
                continue
            }
            if task.state == .running {
                task.state = .queued
                task.startedAt = nil
                cutOff.append(task.id)
            }
            task.workerPID = nil
            tasks[task.id] = task
            taskOrder.append(task.id)
            counters.queued += 1
            let key = ComputationKey(of: task)
            computationOf[task.id] = key
            if var computation = computations[key] {
                computation.members.append(task.id)
                computation.attempts = max(computation.attempts, task.attempts)
                computation.priority = max(computation.priority, task.priority)
                computations[key] = computation
            } else {
                var computation = newComputation(key, priority: task.priority)
                computation.members = [task.id]
                computation.attempts = task.attempts
                computations[key] = computation
            }
        }
        // Retention counts from when a task finished, so a long stop forgets what would have been forgotten.
        for task in finished.sorted(by: { ($0.finishedAt ?? 0, $0.id) < ($1.finishedAt ?? 0, $1.id) }) {
            switch task.state {
            case .done: counters.done += 1
            case .failed: counters.failed += 1
            case .cancelled: counters.cancelled += 1
            case .timedOut: counters.timedOut += 1
            case .queued, .running: break
            }
            if let result = task.result {
                cache.insert(result, for: ComputationKey(n: task.n, algorithm: task.algorithm))
            }
            let age = UInt64(max(0, now.wallNanos - (task.finishedAt ?? now.wallNanos)))
            finishedOrder.append((task.id, now.monotonicNanos - min(age, now.monotonicNanos)))
            retainedBytes += task.result?.count ?? 0
        }
        summary.finished = finished.count
        for id in cutOff {
            guard let task = tasks[id] else { continue }
            if task.attempts >= limits.maxAttempts {
                let message =
                    "fibd stopped during attempt \(task.attempts) of \(limits.maxAttempts) of this task; gave up"
                finish(id, as: .failed, result: nil, error: message, now: now)
                summary.failed += 1
                continue
            }
            summary.requeued += 1
            counters.requeued += 1
            changed(id)
            var event = Event(kind: .taskRequeued, wallNanos: now.wallNanos)
            event.task = id
            event.n = task.n
            event.algorithm = task.algorithm
            event.attempt = task.attempts
            event.error = "fibd stopped while the task ran"
            appendEvent(event)
        }
        summary.queued = counters.queued - summary.requeued
        for computation in computations.values.sorted(by: { $0.seq < $1.seq }) { enqueue(computation) }
        let kept = tasks.count
        forgetExpired(now: now)
        summary.forgotten = kept - tasks.count
        return summary
    }

    // MARK: - Output

    /// What the worker pool must do now, in order. Emptied by the call.
    public func takeActions() -> [SchedulerAction] {
        defer { actions.removeAll(keepingCapacity: true) }
        return actions
    }

    /// Tasks that reached a final state since the last call. Emptied by the call.
    public func takeEndedTasks() -> [TaskID] {
        defer { endedTasks.removeAll(keepingCapacity: true) }
        return endedTasks
    }

    /// The tasks, forgotten tasks and events changed since the last call, for a durable store. Emptied by the call.
    public func takeChanges() -> StateChanges {
        var changes = StateChanges()
        changes.tasks = changedTasks.compactMap { tasks[$0] }
        changes.forgotten = forgottenTasks
        changes.events = newEvents
        changes.nextTaskID = nextTaskID
        changedTasks.removeAll(keepingCapacity: true)
        changedTaskSet.removeAll(keepingCapacity: true)
        forgottenTasks.removeAll(keepingCapacity: true)
        newEvents.removeAll(keepingCapacity: true)
        return changes
    }

    // MARK: - Reading

    public func task(_ id: TaskID) -> FibTask? { tasks[id] }

    public var workerRecords: [WorkerRecord] { workers.values.sorted { $0.id < $1.id } }

    public func workerRecord(_ id: WorkerID) -> WorkerRecord? { workers[id] }

    /// When the first live task of `key`'s computation started (wall clock), if it runs.
    public func startedAt(of key: ComputationKey) -> Int64? {
        computations[key]?.members.first.flatMap { tasks[$0]?.startedAt }
    }

    /// Tasks in submission order after `cursor`, filtered by state, at most `limit`, and the cursor
    /// for the next page (nil when there is no more).
    public func listTasks(states: Set<TaskState>?, after cursor: TaskID?, limit: Int) -> ([FibTask], TaskID?) {
        var start = 0
        if let cursor {
            var low = 0
            var high = taskOrder.count
            while low < high {
                let middle = (low + high) / 2
                if taskOrder[middle] <= cursor { low = middle + 1 } else { high = middle }
            }
            start = low
        }
        var page: [FibTask] = []
        var index = start
        while index < taskOrder.count, page.count < limit {
            if let task = tasks[taskOrder[index]], states?.contains(task.state) ?? true { page.append(task) }
            index += 1
        }
        let more = taskOrder[index...].contains { id in tasks[id].map { states?.contains($0.state) ?? true } ?? false }
        return (page, more ? page.last?.id : nil)
    }

    /// When ``tick(now:)`` next has work to do (a task deadline or a retention expiry), on the monotonic clock.
    public var nextWakeup: UInt64? {
        var earliest = deadlines.min?.monotonicNanos
        if finishedOrderStart < finishedOrder.count {
            let expiry = finishedOrder[finishedOrderStart].monotonicNanos + limits.retainNanos
            earliest = min(earliest ?? expiry, expiry)
        }
        return earliest
    }

    /// Entries in the deadline heap, stale ones included: for tests of its bound.
    var deadlineEntryCount: Int { deadlines.count }

    public var idleWorkerCount: Int { workers.values.count { $0.state == .idle && !$0.isLeaving } }
    public var busyWorkerCount: Int { workers.values.count { $0.state == .busy } }

    // MARK: - Commands from clients

    /// Accepts `requests` as new tasks, all or none.
    /// - Parameter isBatch: the requests came as a list, so batch limits apply and errors name an index.
    public func submit(_ requests: [TaskRequest], isBatch: Bool, now: Moment) throws(SubmitRefusal) -> [FibTask] {
        if isDraining { throw .shuttingDown }
        if isBatch, requests.isEmpty || requests.count > limits.maxBatch {
            throw .batchSize(count: requests.count, limit: limits.maxBatch)
        }
        var needed = 0
        for (index, request) in requests.enumerated() {
            if let message = request.problem(under: limits) {
                throw .invalid(index: isBatch ? index : nil, message: message)
            }
            let key = ComputationKey(n: request.n, algorithm: request.algorithm)
            if !request.shared || (!cache.contains(key) && computations[key]?.worker == nil) { needed += 1 }
        }
        // Idle workers take new computations at once, so they do not count against the queue.
        if needed > 0, counters.queued + needed > limits.maxQueue + idleWorkerCount {
            throw .queueFull(limit: limits.maxQueue)
        }
        let ids = requests.map { accept($0, now: now) }
        dispatch(now: now)
        let accepted = ids.compactMap { tasks[$0] }
        forgetExpired(now: now)
        return accepted
    }

    private func accept(_ request: TaskRequest, now: Moment) -> TaskID {
        let id = TaskID(rawValue: nextTaskID)
        nextTaskID += 1
        let task = FibTask(
            id: id, n: request.n, algorithm: request.algorithm, priority: request.priority,
            timeoutNanos: request.timeoutNanos ?? min(limits.defaultTimeoutNanos, limits.maxTimeoutNanos),
            state: .queued, attempts: 0, submittedAt: now.wallNanos, startedAt: nil, finishedAt: nil,
            workerPID: nil, cached: false, result: nil, error: nil, shared: request.shared)
        let key = ComputationKey(of: task)
        tasks[id] = task
        taskOrder.append(id)
        changed(id)
        counters.submitted += 1
        var event = Event(kind: .taskSubmitted, wallNanos: now.wallNanos)
        event.task = id
        event.n = request.n
        event.algorithm = request.algorithm
        appendEvent(event)

        if request.shared, let digits = cache.lookup(key) {
            tasks.modify(id) { task in
                task.cached = true
                task.startedAt = now.wallNanos
            }
            counters.queued += 1
            finish(id, as: .done, result: digits, error: nil, now: now)
            return id
        }
        counters.queued += 1
        computationOf[id] = key
        if var computation = computations[key] {
            counters.deduplicated += 1
            computation.members.append(id)
            if computation.worker != nil {
                computations[key] = computation
                markRunning(id, computation: computation, now: now)
                return id
            }
            if request.priority > computation.priority {
                computation.priority = request.priority
                computation.version += 1
                // Stored first: enqueue may drop entries whose version differs from the stored one.
                computations[key] = computation
                enqueue(computation)
            }
            computations[key] = computation
            return id
        }
        var computation = newComputation(key, priority: request.priority)
        computation.members = [id]
        computations[key] = computation
        enqueue(computation)
        return id
    }

    /// Cancels a task. A running computation that no other task waits for has its worker killed.
    public func cancel(_ id: TaskID, now: Moment) -> CancelOutcome {
        guard let task = tasks[id] else { return .notFound }
        if task.state == .cancelled { return .cancelled(task) }
        if task.state.isFinal { return .alreadyEnded(task) }
        finish(id, as: .cancelled, result: nil, error: "cancelled by request", now: now)
        dispatch(now: now)
        let outcome = tasks[id].map { CancelOutcome.cancelled($0) } ?? .notFound
        forgetExpired(now: now)
        return outcome
    }

    /// Refuses new submits and starts no queued work from now on; running work goes on.
    public func beginDraining() {
        isDraining = true
    }

    /// Applies new limits (on reload). The cache keeps its contents up to the new bound; the event
    /// log keeps the size it started with (resizing it would expire cursors clients hold).
    public func apply(_ newLimits: SchedulerLimits, now: Moment) {
        cache.setCapacity(newLimits.cacheBytes)
        limits = newLimits
        tick(now: now)
    }

    // MARK: - Reports from the worker pool

    public func workerReady(_ worker: WorkerID, pid: Int32, now: Moment) {
        var record = workers[worker] ?? WorkerRecord(id: worker, state: .idle)
        record.pid = pid
        record.state = .idle
        record.jobs = []
        record.task = nil
        record.readyAt = now.wallNanos
        workers[worker] = record
        var event = Event(kind: .workerReady, wallNanos: now.wallNanos)
        event.workerPID = pid
        appendEvent(event)
        dispatch(now: now)
    }

    /// The pool is taking this slot away (it shrinks). An idle or busy slot gets no new job and
    /// is forgotten when its exit is reported (a job it still runs ends first, or is requeued if
    /// the process dies); a slot without a process is forgotten at once.
    public func workerLeaving(_ worker: WorkerID) {
        guard var record = workers[worker] else { return }
        if record.state == .restarting {
            workers[worker] = nil
        } else {
            record.isLeaving = true
            workers[worker] = record
        }
    }

    /// The worker answered `job`. Answers come in the order the jobs were sent; any other answer (to a job
    /// of a killed process, or out of order) is dropped. The answer to an abandoned trivial job is dropped too.
    public func jobFinished(_ worker: WorkerID, job: UInt64, outcome: JobOutcome, now: Moment) {
        takeAnswer(worker, job: job, outcome: outcome, now: now)
        dispatch(now: now)
        forgetExpired(now: now)
    }

    /// The worker answered `answers`, in order (those read from it at once): as ``jobFinished(_:job:outcome:now:)``
    /// for each, with one dispatch after them all.
    public func jobsFinished(_ worker: WorkerID, answers: [JobAnswer], now: Moment) {
        for answer in answers { takeAnswer(worker, job: answer.job, outcome: answer.outcome, now: now) }
        dispatch(now: now)
        forgetExpired(now: now)
    }

    private func takeAnswer(_ worker: WorkerID, job: UInt64, outcome: JobOutcome, now: Moment) {
        // Taken out of the table while it changes, so that its jobs are not copied (the table would share them).
        guard var record = workers.removeValue(forKey: worker) else { return }
        guard record.state == .busy, let answered = record.jobs.first, answered.id == job else {
            workers[worker] = record
            return
        }
        record.jobs.removeFirst()
        if record.jobs.isEmpty { record.state = .idle }
        record.task = firstTask(of: record.jobs.first)
        switch outcome {
        case .success: record.done += 1
        case .failure: record.failed += 1
        }
        workers[worker] = record
        if let key = answered.computation, let computation = computations[key], computation.job == job {
            // Forgotten before its members finish: otherwise the last one to leave sees a running
            // computation nobody waits for and kills the worker that just answered.
            computations[key] = nil
            switch outcome {
            case .success(let result):
                // An unshared task's result serves later shared tasks too: the digits are the same.
                cache.insert(result.digits, for: key.shared)
                for id in computation.members {
                    finish(id, as: .done, result: result.digits, error: nil, now: now)
                }
            case .failure(let message):
                for id in computation.members {
                    finish(id, as: .failed, result: nil, error: message, now: now)
                }
            }
        }
    }

    public func workerExited(_ worker: WorkerID, pid: Int32, exit: WorkerExit, now: Moment) {
        guard var record = workers[worker] else { return }
        var event = Event(kind: .workerExited, wallNanos: now.wallNanos)
        event.workerPID = pid
        event.error = exit.description
        appendEvent(event)
        if !record.isLeaving {
            counters.workerRestarts += 1
            record.restarts += 1
        }
        let lost = record.jobs
        record.state = .restarting
        record.pid = nil
        record.jobs = []
        record.task = nil
        workers[worker] = record.isLeaving ? nil : record
        // The worker answers in order, so it died running the oldest job it had: only that one counts as
        // an attempt; the ones queued behind it never started.
        for (index, lostJob) in lost.enumerated() {
            guard let key = lostJob.computation, var computation = computations[key], computation.job == lostJob.id
            else { continue }
            let counted = index == 0
            computation.worker = nil
            computation.job = nil
            computation.startedAt = nil
            if !counted { computation.attempts -= 1 }
            if counted, computation.attempts >= limits.maxAttempts {
                let message = "\(exit); gave up after \(computation.attempts) attempts"
                for id in computation.members {
                    finish(id, as: .failed, result: nil, error: message, now: now)
                }
                computations[key] = nil
            } else {
                counters.requeued += 1
                for id in computation.members { markRequeued(id, exit: exit, counted: counted, now: now) }
                computation.version += 1
                computations[key] = computation
                enqueue(computation)
            }
        }
        dispatch(now: now)
        forgetExpired(now: now)
    }

    // MARK: - Time

    /// Times out running tasks past their deadline and forgets finished tasks past retention.
    public func tick(now: Moment) {
        while let deadline = deadlines.min, deadline.monotonicNanos <= now.monotonicNanos {
            _ = deadlines.pop()
            guard deadlineOf[deadline.task] == deadline.monotonicNanos, let task = tasks[deadline.task] else {
                continue
            }
            let seconds = formatSeconds(task.timeoutNanos)
            finish(deadline.task, as: .timedOut, result: nil, error: "timed out after \(seconds) s", now: now)
        }
        forgetExpired(now: now)
        dispatch(now: now)
    }

    // MARK: - Internals

    private func appendEvent(_ event: Event) {
        let kept = events.append(event)
        if recordsChanges { newEvents.append(kept) }
    }

    /// Notes that `id` changed, for ``takeChanges()``. Called after each change to `tasks[id]`.
    private func changed(_ id: TaskID) {
        guard recordsChanges, changedTaskSet.insert(id).inserted else { return }
        changedTasks.append(id)
    }

    private func enqueue(_ computation: Computation) {
        runQueue.push(
            QueueEntry(
                priority: computation.priority, seq: computation.seq, version: computation.version,
                key: computation.key))
        // Stale entries (cancelled or re-prioritised computations) are skipped when popped; drop
        // them in bulk when they outnumber the live ones, so the heap stays bounded by the queue.
        if runQueue.count > 64, runQueue.count > 2 * (computations.count + 1) {
            runQueue.removeAll { entry in
                guard let live = computations[entry.key] else { return true }
                return live.version != entry.version || live.worker != nil
            }
        }
    }

    private func newComputation(_ key: ComputationKey, priority: Int) -> Computation {
        defer { nextSeq += 1 }
        return Computation(
            key: key, priority: priority, seq: nextSeq, isTrivial: limits.isTrivial(n: key.n, algorithm: key.algorithm))
    }

    /// Starts queued computations in queue order while the next one has a worker to go to.
    private func dispatch(now: Moment) {
        // A draining daemon starts nothing new: queued tasks wait for the next start.
        guard !isDraining else { return }
        while let entry = nextQueued(), let computation = computations[entry.key],
            let worker = worker(for: computation)
        {
            _ = runQueue.pop()
            start(computation, on: worker, now: now)
        }
    }

    /// The worker that takes `computation` now, if any: an idle one (the lowest id first); for a trivial job,
    /// failing that, the busy worker with the fewest jobs among those that run only trivial jobs and have room.
    private func worker(for computation: Computation) -> WorkerID? {
        var best: (load: Int, id: WorkerID)?
        for record in workers.values where !record.isLeaving {
            let load: Int
            switch record.state {
            case .idle:
                load = 0
            case .busy:
                guard computation.isTrivial, record.runsOnlyTrivialJobs, record.jobs.count < limits.maxJobsPerWorker
                else { continue }
                load = record.jobs.count
            case .restarting:
                continue
            }
            if best.map({ (load, record.id) < $0 }) ?? true { best = (load, record.id) }
        }
        return best?.id
    }

    private func start(_ started: Computation, on worker: WorkerID, now: Moment) {
        // Taken out of the table while it changes, so that appending a job does not copy the others.
        guard var record = workers.removeValue(forKey: worker) else { return }
        var computation = started
        let job = Job(id: nextJobID, n: computation.key.n, algorithm: computation.key.algorithm)
        nextJobID += 1
        computation.attempts += 1
        computation.worker = worker
        computation.job = job.id
        computation.startedAt = now
        computations[computation.key] = computation
        if record.jobs.isEmpty { record.task = computation.members.first }
        record.state = .busy
        record.jobs.append(JobInFlight(id: job.id, computation: computation.key, isTrivial: computation.isTrivial))
        workers[worker] = record
        for id in computation.members { markRunning(id, computation: computation, now: now) }
        actions.append(.start(job, on: worker))
    }

    /// The head of the run queue, once the stale entries before it are dropped.
    private func nextQueued() -> QueueEntry? {
        while let entry = runQueue.min {
            if let computation = computations[entry.key], computation.version == entry.version,
                computation.worker == nil
            {
                return entry
            }
            _ = runQueue.pop()
        }
        return nil
    }

    /// The computation the next job in line starts: for tests of the queue's order.
    func nextQueuedComputation() -> ComputationKey? { nextQueued()?.key }

    /// The task a worker shows while it runs `job`: the first still waiting for it.
    private func firstTask(of job: JobInFlight?) -> TaskID? {
        job?.computation.flatMap { computations[$0]?.members.first }
    }

    private func markRunning(_ id: TaskID, computation: Computation, now: Moment) {
        guard let worker = computation.worker else { return }
        let pid = workers[worker]?.pid
        // Changed in place: a copy of the task would retain and release its members for nothing.
        let started = tasks.modify(id) { task in
            let wasQueued = task.state == .queued
            task.state = .running
            task.attempts += 1
            task.startedAt = now.wallNanos
            task.workerPID = pid
            return (wasQueued, task.timeoutNanos, task.n, task.algorithm, task.attempts)
        }
        guard let (wasQueued, timeoutNanos, n, algorithm, attempts) = started else { return }
        if wasQueued {
            counters.queued -= 1
            counters.running += 1
        }
        changed(id)
        let deadline = now.monotonicNanos &+ timeoutNanos
        deadlineOf[id] = deadline
        deadlines.push(Deadline(monotonicNanos: deadline, task: id))
        // A task that ends before its deadline leaves its entry behind until the deadline passes; at a high
        // rate that is many entries, so drop the stale ones in bulk once they outnumber the live ones.
        if deadlines.count > 64, deadlines.count > 2 * (deadlineOf.count + 1) {
            deadlines.removeAll { deadlineOf[$0.task] != $0.monotonicNanos }
        }
        var event = Event(kind: .taskStarted, wallNanos: now.wallNanos)
        event.task = id
        event.n = n
        event.algorithm = algorithm
        event.workerPID = pid
        event.attempt = attempts
        appendEvent(event)
    }

    /// - Parameter counted: the attempt counts (the worker died running this job), or is taken back (the
    ///   job was waiting behind another on that worker).
    private func markRequeued(_ id: TaskID, exit: WorkerExit, counted: Bool, now: Moment) {
        guard var task = tasks[id], task.state == .running else { return }
        counters.running -= 1
        counters.queued += 1
        var event = Event(kind: .taskRequeued, wallNanos: now.wallNanos)
        event.task = id
        event.n = task.n
        event.algorithm = task.algorithm
        event.workerPID = task.workerPID
        event.attempt = task.attempts
        event.error = exit.description
        appendEvent(event)
        task.state = .queued
        task.startedAt = nil
        task.workerPID = nil
        if !counted { task.attempts -= 1 }
        tasks[id] = task
        changed(id)
        deadlineOf[id] = nil
    }

    /// Moves a live task to a final state and lets its computation go when nobody waits for it.
    /// Retention is applied by the entry points once their answer is taken, not here.
    private func finish(_ id: TaskID, as state: TaskState, result: [UInt8]?, error: String?, now: Moment) {
        // Changed in place; what the event and the counters need is taken out, not the whole task.
        let ended = tasks.modify(id) { task -> EndedTask? in
            guard !task.state.isFinal else { return nil }
            let previous = task.state
            task.state = state
            task.finishedAt = now.wallNanos
            task.result = result
            task.error = error
            return EndedTask(
                previous: previous, n: task.n, algorithm: task.algorithm, workerPID: task.workerPID,
                attempts: task.attempts, durationNanos: task.durationNanos, cached: task.cached)
        }
        guard let ended = ended ?? nil else { return }
        switch ended.previous {
        case .queued: counters.queued -= 1
        case .running: counters.running -= 1
        default: break
        }
        changed(id)
        deadlineOf[id] = nil
        endedTasks.append(id)

        let kind: EventKind
        switch state {
        case .done:
            counters.done += 1
            completions.record(at: now)
            if !ended.cached, let nanos = ended.durationNanos { durations.record(nanos: nanos) }
            kind = .taskDone
        case .failed:
            counters.failed += 1
            kind = .taskFailed
        case .cancelled:
            counters.cancelled += 1
            kind = .taskCancelled
        case .timedOut:
            counters.timedOut += 1
            kind = .taskTimedOut
        case .queued, .running:
            return
        }
        var event = Event(kind: kind, wallNanos: now.wallNanos)
        event.task = id
        event.n = ended.n
        event.algorithm = ended.algorithm
        event.workerPID = ended.workerPID
        event.attempt = ended.attempts
        event.durationNanos = ended.durationNanos
        event.digits = result?.count
        event.result = result
        event.error = error
        event.cached = ended.cached ? true : nil
        appendEvent(event)

        retainedBytes += result?.count ?? 0
        finishedOrder.append((id, now.monotonicNanos))
        leaveComputation(id)
    }

    private func leaveComputation(_ id: TaskID) {
        guard let key = computationOf.removeValue(forKey: id), var computation = computations[key] else { return }
        computation.members.removeAll { $0 == id }
        guard computation.members.isEmpty else {
            computations[key] = computation
            if let worker = computation.worker, workers[worker]?.job == computation.job {
                workers[worker]?.task = computation.members.first
            }
            return
        }
        computations[key] = nil
        guard let worker = computation.worker, var record = workers[worker],
            let index = record.jobs.firstIndex(where: { $0.id == computation.job })
        else { return }
        if record.jobs[index].isTrivial {
            // Not worth a worker: it finishes in microseconds, and its answer is dropped.
            record.jobs[index].computation = nil
            if index == 0 { record.task = nil }
            workers[worker] = record
            return
        }
        // Nobody waits for this result any more: free the CPU now. A non-trivial job is alone on its worker.
        record.state = .restarting
        record.jobs = []
        record.task = nil
        workers[worker] = record
        actions.append(.kill(worker))
    }

    private func forgetExpired(now: Moment) {
        while finishedOrderStart < finishedOrder.count {
            let (id, finishedAt) = finishedOrder[finishedOrderStart]
            let kept = finishedOrder.count - finishedOrderStart
            let expired = finishedAt &+ limits.retainNanos <= now.monotonicNanos
            guard expired || kept > limits.retainCount || retainedBytes > limits.retainBytes else { break }
            finishedOrderStart += 1
            if let task = tasks.removeValue(forKey: id) {
                retainedBytes -= task.result?.count ?? 0
                if recordsChanges { forgottenTasks.append(id) }
            }
        }
        if finishedOrderStart > 1024, finishedOrderStart * 2 > finishedOrder.count {
            finishedOrder.removeFirst(finishedOrderStart)
            finishedOrderStart = 0
        }
        if taskOrder.count > 1024, taskOrder.count > 2 * tasks.count {
            taskOrder.removeAll { !tasks.contains($0) }
        }
    }
}

/// Seconds as short text: "0.5", "2", "1.25".
func formatSeconds(_ nanos: UInt64) -> String {
    let whole = nanos / nanosPerSecond
    var fraction = nanos % nanosPerSecond
    guard fraction != 0 else { return "\(whole)" }
    var digits = 9
    while fraction % 10 == 0 {
        fraction /= 10
        digits -= 1
    }
    let text = String(fraction)
    return "\(whole)." + String(repeating: "0", count: digits - text.utf8.count) + text
}
