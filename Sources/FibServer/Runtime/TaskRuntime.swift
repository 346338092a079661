import FibCore
import Logging
import NIOCore

/// Runs the pure ``Scheduler`` on one event loop: feeds it the clock, the API's requests and
/// the worker pool's reports, carries out its actions on the pool, and holds the long-polls.
///
/// Every piece of state here is confined to `eventLoop`; the public methods may be called
/// from any thread and hop there. That confinement is why the type can be `@unchecked Sendable`.
///
/// With a durable ``TaskStore``, what the commands of one turn of the loop changed goes to the store in one
/// commit at the end of that turn (a flush), and what clients are told follows the commit: a submit is answered
/// 202 (and a cancel 200) only once written, a long-poll is woken by a task's end only once that end is written,
/// and the events feed shows only written events. So nothing a client was told can be undone by a crash, and a
/// cursor from before a restart reads on from where it was (or is told to resync), never into events that were
/// replaced. A store that writes on the caller's thread (SQLite: a WAL append) completes within the flush, so
/// the answers go out in the same turn, with no hop to another thread; under load one flush holds the changes
/// of many commands.
public final class TaskRuntime: @unchecked Sendable {
    /// Change sets the store may fall behind by before submits are refused (503): the bound on what
    /// waits in memory for the disk (a store that writes in the flush is never behind).
    public static let maxPendingCommits = 4096
    /// Commands after which a flush is written at once rather than at the end of the turn: the bound on the
    /// changes and answers that wait in memory for one flush.
    static let maxCommandsPerFlush = 4096
    /// How long a flush nobody waits for may be put off to be written with the next ones (a worker's
    /// replies to a big batch come one or two a turn; their ends need be written only before anyone hears).
    static let maxFlushDelay: TimeAmount = .milliseconds(1)

    /// A client waiting for something: tasks to end, or events after a cursor. Small on purpose (10,000
    /// held long-polls are a benchmark): no timer of its own, see ``LongPollDeadlines``.
    private struct Waiter {
        var promise: EventLoopPromise<Void>
        var target: WaitTarget
        /// Tasks it waits for that have not ended yet.
        var remaining: Int
    }

    private enum WaitTarget {
        case events
        case task(TaskID)
        /// A waited batch submit: one waiter for all its tasks.
        case tasks([TaskID])
    }

    public let eventLoop: any EventLoop
    private let scheduler: Scheduler
    private let logger: Logger
    private let clock: @Sendable () -> Moment
    public let startedAt: Moment
    /// The pool the scheduler's actions go to. Set once during wiring, before workers start.
    public var pool: (any WorkerPoolControl)?
    /// Reads CPU and memory of the workers; set during wiring.
    public var sampleWorkers: (() -> [WorkerSample])?

    private var nextWaiterID = 0
    private var taskWaiters: [TaskID: WaiterIDs] = [:]
    private var eventWaiters: Set<Int> = []
    private var waiters: [Int: Waiter] = [:]
    /// When held waits time out; one timer for all of them.
    private var waitDeadlines = LongPollDeadlines()
    private var deadlineTimer: (at: NIODeadline, task: Scheduled<Void>)?
    private var lastEventHead: UInt64 = 0
    private var wakeup: (at: UInt64, task: Scheduled<Void>)?
    private var expectedWorkers: Int
    private var readyWorkerIDs: Set<WorkerID> = []
    private let allReady: EventLoopPromise<Void>
    /// Per-group counts and where time went, for the status pages.
    private var groupStatistics = GroupStatistics()
    /// Samples of the daemon and workers for the time-series status views, taken only while someone asks.
    private lazy var sampleRing = SystemSampleRing(eventLoop: eventLoop) { seq, lagNanos in
        self.takeSample(seq: seq, lagNanos: lagNanos)
    }
    /// Open HTTP connections, for the scheduler-system view; set during wiring.
    public var connectionCount: (@Sendable () -> Int)?
    /// Where the state is kept; nil: in memory only.
    private let store: (any TaskStore)?
    /// What was taken back from the store at start-up, for the log.
    public let restored: RestoreSummary?
    /// The newest event the store has written: the feed shows none after it.
    private var committedEventHead: UInt64
    /// Completes when the last commit handed to the store is written (fails if that write failed).
    private var lastCommit: EventLoopFuture<Void>
    /// Something changed since the last flush: a flush will come (queued, or put off by `deferredFlush`).
    private var flushScheduled = false
    /// A flush (or the check whether one can be put off) is queued on the loop.
    private var flushQueued = false
    /// The timer of a flush put off because nobody waited for it.
    private var deferredFlush: Scheduled<Void>?
    /// Completed by the next flush; made only when someone waits for it.
    private var nextFlush: EventLoopPromise<Void>?
    /// Someone waits for the next flush alone: it is not put off.
    private var nextFlushIsAwaited = false
    /// Tasks that ended since the last flush: their long-polls are woken once it is written.
    private var endedSinceFlush: [TaskID] = []
    private var commandsSinceFlush = 0

    /// - Parameters:
    ///   - store: where tasks and events are made durable; nil keeps them in memory only.
    ///   - stored: what `store` kept from an earlier run, taken back before any worker starts.
    public init(
        limits: SchedulerLimits, workers: Int, eventLoop: any EventLoop, logger: Logger,
        clock: @escaping @Sendable () -> Moment = SystemClock.now, store: (any TaskStore)? = nil,
        restoring stored: StoredState? = nil
    ) {
        let now = clock()
        self.startedAt = now
        // Ids start at the wall clock in microseconds (or after the stored ones), so they stay unique across restarts.
        let scheduler = Scheduler(limits: limits, firstTaskID: UInt64(max(0, now.wallNanos / 1000)))
        scheduler.recordsChanges = store != nil
        self.restored = stored.map { scheduler.restore($0, now: now) }
        self.scheduler = scheduler
        self.store = store
        self.committedEventHead = store == nil ? scheduler.events.head : (stored?.eventHead ?? 0)
        self.lastCommit = eventLoop.makeSucceededFuture(())
        self.eventLoop = eventLoop
        self.logger = logger
        self.clock = clock
        self.expectedWorkers = workers
        self.allReady = eventLoop.makePromise()
        if workers == 0 { allReady.succeed() }
        // What restoring changed (requeued and failed tasks) is written before anything else.
        noteChanges(ended: [])
    }

    /// Completes once every worker of the first pool has said hello.
    public var ready: EventLoopFuture<Void> { allReady.futureResult }

    // MARK: - Requests (any thread)

    /// Submits tasks; with `wait`, answers once they all ended or the wait is over.
    public func submit(_ requests: [TaskRequest], isBatch: Bool, wait: TimeAmount?) -> EventLoopFuture<[FibTask]> {
        eventLoop.flatSubmit {
            if let store = self.store, store.pendingCommits >= Self.maxPendingCommits {
                return self.eventLoop.makeFailedFuture(Self.storageBehind)
            }
            let tasks: [FibTask]
            do {
                tasks = try self.mutate { now in try self.scheduler.submit(requests, isBatch: isBatch, now: now) }
            } catch {
                return self.eventLoop.makeFailedFuture(error)
            }
            for task in tasks {
                self.logger.debug(
                    "task submitted",
                    metadata: ["task": "\(task.id)", "n": "\(task.n)", "algorithm": "\(task.algorithm.rawValue)"])
            }
            // The answer follows the commit: a task answered 202 survives any crash from then on.
            guard let wait, tasks.contains(where: { !$0.state.isFinal }) else {
                return self.written().map { tasks }
            }
            // A waited submit is answered once its tasks ended (or the wait is over) and all that is written, so
            // the tasks' first write need not come before the worker's answer: for a quick task, one commit holds
            // its submit, start and end. If the first write fails, the submit is refused all the same.
            let submitted = self.written(awaited: false)
            let live = tasks.filter { !$0.state.isFinal }.map(\.id)
            let ended = self.addWaiter(timeout: wait, tasks: live, clientGone: nil)
            return submitted.and(ended).flatMap { _ in self.written() }.map {
                tasks.map { self.scheduler.task($0.id) ?? $0 }
            }
        }
    }

    /// The task, after waiting up to `wait` for it to end; nil if unknown.
    /// - Parameter clientGone: completes if the client leaves; its long-poll is dropped then.
    public func task(_ id: TaskID, wait: TimeAmount?, clientGone: EventLoopFuture<Void>? = nil)
        -> EventLoopFuture<FibTask?>
    {
        eventLoop.flatSubmit {
            guard let task = self.scheduler.task(id) else { return self.eventLoop.makeSucceededFuture(nil) }
            guard let wait, !task.state.isFinal else { return self.afterWrite { self.scheduler.task(id) ?? task } }
            let waiter = self.addWaiter(timeout: wait, tasks: [id], clientGone: clientGone)
            return waiter.flatMap { self.afterWrite { self.scheduler.task(id) ?? task } }
        }
    }

    public func cancel(_ id: TaskID) -> EventLoopFuture<CancelOutcome> {
        eventLoop.flatSubmit {
            // The cancel is logged with the task's other ends, once, when it happens.
            let outcome = self.mutate { now in self.scheduler.cancel(id, now: now) }
            return self.written().map { outcome }
        }
    }

    /// Computes one task for a request that holds its connection open (GET /fib/{n}): the task
    /// is cancelled if the client goes away first.
    public func compute(_ request: TaskRequest, clientGone: EventLoopFuture<Void>) -> EventLoopFuture<FibTask> {
        eventLoop.flatSubmit {
            let task: FibTask
            do {
                guard
                    let accepted = try self.mutate({ now in
                        try self.scheduler.submit([request], isBatch: false, now: now)
                    })
                    .first
                else { return self.eventLoop.makeFailedFuture(SubmitRefusal.shuttingDown) }
                task = accepted
            } catch {
                return self.eventLoop.makeFailedFuture(error)
            }
            if task.state.isFinal { return self.eventLoop.makeSucceededFuture(task) }
            clientGone.whenComplete { _ in
                self.eventLoop.execute {
                    if let current = self.scheduler.task(task.id), !current.state.isFinal {
                        _ = self.mutate { now in self.scheduler.cancel(task.id, now: now) }
                    }
                }
            }
            // No wait limit of its own: the task's timeout ends it.
            return self.addWaiter(timeout: nil, tasks: [task.id], clientGone: nil).map {
                self.scheduler.task(task.id) ?? task
            }
        }
    }

    public func listTasks(states: Set<TaskState>?, after cursor: TaskID?, limit: Int)
        -> EventLoopFuture<([FibTask], TaskID?)>
    {
        eventLoop.flatSubmit {
            self.afterWrite { self.scheduler.listTasks(states: states, after: cursor, limit: limit) }
        }
    }

    /// Events after `cursor` (nil: from now on); with `wait`, an empty answer is held until one comes.
    public func events(
        after cursor: UInt64?, limit: Int, wait: TimeAmount?, clientGone: EventLoopFuture<Void>? = nil
    ) -> EventLoopFuture<(EventRead, oldest: UInt64)> {
        eventLoop.flatSubmit {
            let from = cursor ?? self.committedEventHead
            let read = self.scheduler.events.read(after: from, limit: limit, visibleHead: self.committedEventHead)
            guard case .events(let events, _) = read, events.isEmpty, let wait, wait > .zero else {
                return self.eventLoop.makeSucceededFuture((read, self.scheduler.events.oldest))
            }
            return self.addWaiter(timeout: wait, tasks: nil, clientGone: clientGone).map {
                (
                    self.scheduler.events.read(after: from, limit: limit, visibleHead: self.committedEventHead),
                    self.scheduler.events.oldest
                )
            }
        }
    }

    /// A consistent picture of the daemon for /status and /metrics.
    public func snapshot() -> EventLoopFuture<RuntimeSnapshot> {
        eventLoop.submit { self.makeSnapshot() }
    }

    /// Starts refusing submits (SIGTERM); running work goes on.
    public func beginDraining() -> EventLoopFuture<Void> {
        eventLoop.submit { self.scheduler.beginDraining() }
    }

    /// Completes once no task is running or queued, or after `timeout`.
    public func drained(timeout: TimeAmount) -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            let promise = self.eventLoop.makePromise(of: Void.self)
            self.checkDrained(until: .now() + timeout, promise: promise)
            return promise.futureResult
        }
    }

    private func checkDrained(until deadline: NIODeadline, promise: EventLoopPromise<Void>) {
        let counters = scheduler.counters
        // Queued tasks stay queued (in the store) for the next start; only running ones are awaited.
        if counters.running == 0 || NIODeadline.now() >= deadline {
            promise.succeed()
        } else {
            eventLoop.scheduleTask(in: .milliseconds(20)) { self.checkDrained(until: deadline, promise: promise) }
        }
    }

    /// Writes whatever changed and is not written yet, at once, and completes when the store has it (used when
    /// stopping: the pool's shutdown reports its workers' exits, and the store closes next).
    public func writePending() -> EventLoopFuture<Void> {
        eventLoop.flatSubmit {
            if self.flushScheduled { self.flush(now: true) }
            return self.lastCommit
        }
    }

    /// Answers every held long-poll now (used when stopping).
    public func releaseWaiters() -> EventLoopFuture<Void> {
        eventLoop.submit {
            // A flush put off is written first: nothing waits for it, but the store closes soon.
            if self.flushScheduled { self.flush(now: true) }
            for id in Array(self.waiters.keys) { self.resolveWaiter(id) }
            self.sampleRing.releaseAll()
            self.taskWaiters.removeAll()
            self.eventWaiters.removeAll()
            self.waitDeadlines.removeAll()
            self.deadlineTimer?.task.cancel()
            self.deadlineTimer = nil
        }
    }

    // MARK: - Internals (on the event loop)

    private func now() -> Moment { clock() }

    /// Runs a scheduler command, then carries out what it asks for and wakes whoever waits.
    private func mutate<Result, Failure: Error>(_ body: (Moment) throws(Failure) -> Result) throws(Failure) -> Result {
        eventLoop.preconditionInEventLoop()
        let result = try body(now())
        afterMutation()
        return result
    }

    private func afterMutation() {
        for action in scheduler.takeActions() {
            switch action {
            case .start(let job, let worker): pool?.start(job, on: worker)
            case .kill(let worker): pool?.kill(worker)
            }
        }
        let ended = scheduler.takeEndedTasks()
        for id in ended { logEnd(of: id) }
        if scheduler.events.head != lastEventHead {
            lastEventHead = scheduler.events.head
            groupStatistics.fold(scheduler.events)
        }
        armWakeup()
        if store == nil {
            publish(ended: ended, eventHead: scheduler.events.head)
        } else {
            noteChanges(ended: ended)
        }
    }

    /// Completes when everything changed so far is written (fails if that write failed).
    /// - Parameter awaited: false if the caller waits for something else too (a waited submit for its tasks'
    ///   ends): the flush may then still be put off.
    private func written(awaited: Bool = true) -> EventLoopFuture<Void> {
        guard flushScheduled else { return lastCommit }
        let promise: EventLoopPromise<Void>
        if let nextFlush {
            promise = nextFlush
        } else {
            promise = eventLoop.makePromise(of: Void.self)
            nextFlush = promise
        }
        if awaited, !nextFlushIsAwaited {
            // Someone waits now: a flush put off is written in this turn.
            nextFlushIsAwaited = true
            queueFlush()
        }
        return promise.futureResult
    }

    /// `read` once what changed so far is written (whether or not that write failed), so that no answer shows a
    /// state a crash could take back.
    private func afterWrite<Value: Sendable>(_ read: @escaping @Sendable () -> Value) -> EventLoopFuture<Value> {
        guard flushScheduled else { return eventLoop.makeSucceededFuture(read()) }
        return written().recover { _ in }.map(read)
    }

    /// Notes that a command changed something: the first change after a flush queues the next one, which runs
    /// after the commands already queued on the loop, so that one commit holds them all.
    private func noteChanges(ended: [TaskID]) {
        guard store != nil else { return }
        endedSinceFlush += ended
        commandsSinceFlush += 1
        flushScheduled = true
        if commandsSinceFlush >= Self.maxCommandsPerFlush {
            flush(now: true)
        } else {
            queueFlush()
        }
    }

    private func queueFlush() {
        guard !flushQueued else { return }
        flushQueued = true
        eventLoop.execute {
            self.flushQueued = false
            self.flush(now: false)
        }
    }

    /// Whether anyone would hear of the pending changes once written: an answer, a long-poll of the feed, or
    /// the last task a waiter waits for.
    private var flushIsAwaited: Bool {
        if nextFlushIsAwaited || !eventWaiters.isEmpty { return true }
        for id in endedSinceFlush {
            guard let ids = taskWaiters[id] else { continue }
            var awaited = false
            ids.forEach { waiter in awaited = awaited || (waiters[waiter]?.remaining ?? 0) <= 1 }
            if awaited { return true }
        }
        return false
    }

    /// Hands what changed since the last flush to the store in one commit; whoever waits for it hears once it
    /// is written (within this call when the store writes on this thread). Unless `now`, a flush nobody waits
    /// for is put off by up to ``maxFlushDelay`` to be written with the next ones.
    private func flush(now: Bool) {
        guard let store, flushScheduled else { return }
        if !now, !flushIsAwaited {
            if deferredFlush == nil {
                deferredFlush = eventLoop.scheduleTask(in: Self.maxFlushDelay) {
                    self.deferredFlush = nil
                    self.flush(now: true)
                }
            }
            return
        }
        deferredFlush?.cancel()
        deferredFlush = nil
        let waiting = nextFlush
        nextFlush = nil
        nextFlushIsAwaited = false
        flushScheduled = false
        commandsSinceFlush = 0
        let ended = endedSinceFlush
        endedSinceFlush = []
        let head = scheduler.events.head
        let changes = scheduler.takeChanges()
        guard !changes.isEmpty else {
            if let waiting { lastCommit.cascade(to: waiting) }
            return
        }
        let written = waiting ?? eventLoop.makePromise(of: Void.self)
        lastCommit = written.futureResult
        store.commit(changes) { error in
            if self.eventLoop.inEventLoop {
                self.committed(error, written: written, ended: ended, eventHead: head)
            } else {
                self.eventLoop.execute { self.committed(error, written: written, ended: ended, eventHead: head) }
            }
        }
    }

    private func committed(_ error: StoreError?, written: EventLoopPromise<Void>, ended: [TaskID], eventHead: UInt64) {
        if let error {
            logger.error("cannot save state", metadata: ["error": "\(error)"])
            written.fail(Self.storageFailed)
        } else {
            written.succeed()
        }
        // Waiters are woken even if the write failed: their answer is what the daemon knows.
        publish(ended: ended, eventHead: eventHead)
    }

    /// Wakes the long-polls of tasks that ended and of the events feed up to `eventHead`.
    private func publish(ended: [TaskID], eventHead: UInt64) {
        for id in ended {
            // A task ends once: whoever waits for it hears, and it is waited for no more.
            guard let ids = taskWaiters.removeValue(forKey: id) else { continue }
            ids.forEach { waiter in
                guard let remaining = waiters[waiter]?.remaining else { return }
                if remaining <= 1 {
                    waiters[waiter]?.remaining = 0
                    resolveWaiter(waiter)
                } else {
                    waiters[waiter]?.remaining = remaining - 1
                }
            }
        }
        guard eventHead > committedEventHead else { return }
        committedEventHead = eventHead
        let woken = eventWaiters
        eventWaiters = []
        for waiter in woken { resolveWaiter(waiter) }
    }

    /// A commit failed: the tasks of the request may not survive a crash, so it is not acknowledged.
    static let storageFailed = Problem(
        slug: "storage-unavailable", title: "Storage unavailable", status: .serviceUnavailable,
        detail: "fibd could not save the change to its state database; see its log", headers: ["Retry-After": "5"])

    /// The store is too far behind to take more now.
    static let storageBehind = Problem(
        slug: "storage-unavailable", title: "Storage unavailable", status: .serviceUnavailable,
        detail: "fibd's state database is behind; try again shortly", headers: ["Retry-After": "1"])

    private func logEnd(of id: TaskID) {
        guard let task = scheduler.task(id) else { return }
        // A busy daemon ends thousands of tasks a second: only the ends worth a look are above debug.
        let level: Logger.Level
        switch task.state {
        case .failed: level = .warning
        case .cancelled, .timedOut: level = .info
        default: level = .debug
        }
        // The metadata costs more than the rest of a trivial task's end: it is built only if it is logged.
        guard logger.logLevel <= level else { return }
        var metadata: Logger.Metadata = [
            "task": "\(id)", "n": "\(task.n)", "algorithm": "\(task.algorithm.rawValue)",
            "state": "\(task.state.rawValue)", "attempt": "\(task.attempts)",
        ]
        if let pid = task.workerPID { metadata["worker_pid"] = "\(pid)" }
        if let nanos = task.durationNanos { metadata["duration_usec"] = "\(nanos / 1000)" }
        if let error = task.error { metadata["error"] = "\(error)" }
        logger.log(level: level, "task \(task.state.rawValue)", metadata: metadata)
    }

    /// Keeps one timer armed at the scheduler's next deadline.
    private func armWakeup() {
        guard let at = scheduler.nextWakeup else {
            wakeup?.task.cancel()
            wakeup = nil
            return
        }
        if let wakeup, wakeup.at <= at { return }
        wakeup?.task.cancel()
        let nowNanos = now().monotonicNanos
        let delay = at > nowNanos ? Int64(min(at - nowNanos, UInt64(Int64.max))) : 0
        let task = eventLoop.scheduleTask(in: .nanoseconds(delay)) {
            self.wakeup = nil
            self.mutate { now in self.scheduler.tick(now: now) }
        }
        wakeup = (at, task)
    }

    /// A future that completes when all of `tasks` ended (or, for nil, when the next event comes), when
    /// `timeout` elapses (nil: no limit of its own), or when the client leaves.
    private func addWaiter(timeout: TimeAmount?, tasks: [TaskID]?, clientGone: EventLoopFuture<Void>?)
        -> EventLoopFuture<Void>
    {
        nextWaiterID += 1
        let id = nextWaiterID
        let promise = eventLoop.makePromise(of: Void.self)
        let target: WaitTarget
        switch tasks {
        case nil:
            target = .events
            eventWaiters.insert(id)
        case let tasks? where tasks.count == 1:
            target = .task(tasks[0])
        case let tasks?:
            target = .tasks(tasks)
        }
        for task in tasks ?? [] {
            if taskWaiters[task]?.insert(id) == nil { taskWaiters[task] = .one(id) }
        }
        waiters[id] = Waiter(promise: promise, target: target, remaining: tasks?.count ?? 1)
        if tasks?.isEmpty == true {
            resolveWaiter(id)
            return promise.futureResult
        }
        if let timeout { addDeadline(NIODeadline.now() + timeout, waiter: id) }
        clientGone?.whenComplete { _ in self.eventLoop.execute { self.resolveWaiter(id) } }
        return promise.futureResult
    }

    /// Completes a waiter once and forgets it everywhere.
    private func resolveWaiter(_ id: Int) {
        guard let waiter = waiters.removeValue(forKey: id) else { return }
        switch waiter.target {
        case .events: eventWaiters.remove(id)
        case .task(let task): forgetWaiter(id, of: task)
        case .tasks(let tasks):
            if waiter.remaining > 0 { for task in tasks { forgetWaiter(id, of: task) } }
        }
        // Its deadline stays behind in the heap until it comes up or the heap is compacted.
        waitDeadlines.noteResolved(liveWaiters: waiters.count) { waiters[$0] != nil }
        waiter.promise.succeed()
    }

    private func forgetWaiter(_ id: Int, of task: TaskID) {
        guard let ids = taskWaiters[task] else { return }
        if let rest = ids.removing(id) { taskWaiters[task] = rest } else { taskWaiters[task] = nil }
    }

    private func addDeadline(_ deadline: NIODeadline, waiter id: Int) {
        waitDeadlines.push(deadline, waiter: id)
        if let armed = deadlineTimer, armed.at <= deadline { return }
        armDeadlineTimer(at: deadline)
    }

    /// One timer at the earliest deadline of a held wait (coarse: late by at most `slack`).
    private func armDeadlineTimer(at deadline: NIODeadline) {
        deadlineTimer?.task.cancel()
        let task = eventLoop.scheduleTask(deadline: deadline + LongPollDeadlines.slack) { self.deadlinesDue() }
        deadlineTimer = (deadline, task)
    }

    private func deadlinesDue() {
        deadlineTimer = nil
        let now = NIODeadline.now()
        while let (deadline, id) = waitDeadlines.first, deadline <= now {
            waitDeadlines.pop()
            resolveWaiter(id)
        }
        while let (_, id) = waitDeadlines.first, waiters[id] == nil { waitDeadlines.pop() }
        if let (deadline, _) = waitDeadlines.first { armDeadlineTimer(at: deadline) }
    }

    private func makeSnapshot() -> RuntimeSnapshot {
        let now = now()
        let samples = sampleWorkers?() ?? []
        let records = Dictionary(uniqueKeysWithValues: scheduler.workerRecords.map { ($0.id, $0) })
        let workers = samples.map { sample -> WorkerView in
            let record = records[sample.id]
            let task = record?.task.flatMap { scheduler.task($0) }
            return WorkerView(sample: sample, record: record, task: task)
        }
        return RuntimeSnapshot(
            now: now, startedAt: startedAt, counters: scheduler.counters, limits: scheduler.limits,
            durations: scheduler.durations, doneLastMinute: scheduler.completions.lastMinute(at: now),
            cacheEntries: scheduler.cache.count, cacheBytes: scheduler.cache.bytes,
            cacheCapacity: scheduler.cache.capacityBytes, cacheHits: scheduler.cache.hits,
            cacheMisses: scheduler.cache.misses, eventHead: committedEventHead,
            eventOldest: scheduler.events.oldest, workers: workers, expectedWorkers: expectedWorkers,
            isDraining: scheduler.isDraining, isReady: readyWorkerIDs.count >= expectedWorkers,
            longPolls: waiters.count)
    }

    /// Per-group figures (groups with nothing live and nothing done are left out) and the result bytes the
    /// cache keeps per group.
    public func groups() -> EventLoopFuture<[GroupView]> {
        eventLoop.submit {
            var cached: [GroupStatistics.Group: (entries: Int, bytes: Int)] = [:]
            for (key, bytes) in self.scheduler.cache.bytesPerKey() {
                let group = GroupStatistics.Group(n: key.n, algorithm: key.algorithm)
                cached[group, default: (0, 0)].entries += 1
                cached[group, default: (0, 0)].bytes += bytes
            }
            var groups = Set(self.groupStatistics.groups.keys)
            groups.formUnion(cached.keys)
            return groups.map { group in
                GroupView(
                    name: group.name, figures: self.groupStatistics.groups[group] ?? GroupStatistics.Figures(),
                    cachedResults: cached[group]?.entries ?? 0, cachedBytes: cached[group]?.bytes ?? 0)
            }.sorted { $0.name < $1.name }
        }
    }

    /// Samples of the daemon and its workers after `cursor`; with `wait`, an empty answer is held until
    /// the next sample (at most one a second).
    public func samples(
        after cursor: UInt64?, limit: Int, wait: TimeAmount?, clientGone: EventLoopFuture<Void>? = nil
    ) -> EventLoopFuture<(samples: [SystemSample], next: UInt64)> {
        let requestedAt = NIODeadline.now()
        return eventLoop.flatSubmit {
            self.sampleRing.read(
                after: cursor, limit: limit, wait: wait, requestedAt: requestedAt, clientGone: clientGone)
        }
    }

    private func takeSample(seq: UInt64, lagNanos: UInt64) -> SystemSample {
        let process = DaemonProcessFigures.read()
        let daemon = DaemonFigures(
            cpuSeconds: process.cpuSeconds, rssBytes: process.rssBytes,
            openFileDescriptors: process.openFileDescriptors, connections: connectionCount?() ?? 0,
            longPolls: waiters.count, loopLagNanos: lagNanos)
        return SystemSample(seq: seq, wallNanos: now().wallNanos, daemon: daemon, workers: makeSnapshot().workers)
    }

    /// Changes the limits (on reload).
    public func apply(_ limits: SchedulerLimits, workers: Int) -> EventLoopFuture<Void> {
        eventLoop.submit {
            self.expectedWorkers = workers
            self.mutate { now in self.scheduler.apply(limits, now: now) }
        }
    }

    /// A slot the pool removed while shrinking.
    public func workersLeaving(_ leaving: [WorkerID]) {
        eventLoop.execute {
            self.mutate { _ in
                for worker in leaving {
                    self.readyWorkerIDs.remove(worker)
                    self.scheduler.workerLeaving(worker)
                }
            }
        }
    }
}

extension TaskRuntime: WorkerPoolDelegate {
    public func workerReady(_ worker: WorkerID, pid: Int32) {
        mutate { now in scheduler.workerReady(worker, pid: pid, now: now) }
        readyWorkerIDs.insert(worker)
        // Ready once what the workers' hellos changed is written too, so the feed shows it from the start.
        if readyWorkerIDs.count >= expectedWorkers { written().whenComplete { _ in self.allReady.succeed() } }
    }

    public func jobFinished(_ worker: WorkerID, job: UInt64, outcome: JobOutcome) {
        jobsFinished(worker, answers: [JobAnswer(job: job, outcome: outcome)])
    }

    /// A burst of answers (a worker answers its trivial jobs in one write) is one command: the actions,
    /// the bookkeeping and the wakeups that follow it are done once for all of them.
    public func jobsFinished(_ worker: WorkerID, answers: [JobAnswer]) {
        recordComputations(worker, answers: answers)
        mutate { now in scheduler.jobsFinished(worker, answers: answers, now: now) }
    }

    /// Adds the computations that `answers` complete to the group figures. The worker answers in the order it
    /// was sent its jobs, so the answers match its jobs in flight from the oldest on.
    private func recordComputations(_ worker: WorkerID, answers: [JobAnswer]) {
        guard let record = scheduler.workerRecord(worker), record.state == .busy else { return }
        let wallNanos = now().wallNanos
        for (answer, job) in zip(answers, record.jobs) {
            guard answer.job == job.id else { return }
            guard case .success(let result) = answer.outcome, let key = job.computation else { continue }
            let elapsed = UInt64(max(0, wallNanos - (scheduler.startedAt(of: key) ?? wallNanos)))
            groupStatistics.recordComputation(key, result: result, elapsedNanos: elapsed)
        }
    }

    public func workerExited(_ worker: WorkerID, pid: Int32, exit: WorkerExit) {
        mutate { now in scheduler.workerExited(worker, pid: pid, exit: exit, now: now) }
    }
}

/// A worker as the workers view shows it: what the pool measured and what the scheduler knows.
public struct WorkerView: Sendable {
    public var sample: WorkerSample
    public var record: WorkerRecord?
    public var task: FibTask?
}

/// One group of tasks as the groups, progress and time-per-action views show it.
public struct GroupView: Sendable {
    public var name: String
    var figures: GroupStatistics.Figures
    public var cachedResults: Int
    public var cachedBytes: Int
}

/// Everything /status and /metrics report, read at one moment on the runtime's loop.
public struct RuntimeSnapshot: Sendable {
    public var now: Moment
    public var startedAt: Moment
    public var counters: SchedulerCounters
    public var limits: SchedulerLimits
    public var durations: DurationHistogram
    public var doneLastMinute: Int
    public var cacheEntries: Int
    public var cacheBytes: Int
    public var cacheCapacity: Int
    public var cacheHits: Int
    public var cacheMisses: Int
    public var eventHead: UInt64
    public var eventOldest: UInt64
    public var workers: [WorkerView]
    public var expectedWorkers: Int
    public var isDraining: Bool
    public var isReady: Bool
    public var longPolls: Int
}

/// The ids of the waiters of one task: almost always one, kept without an allocation then.
private enum WaiterIDs {
    case one(Int)
    case many([Int])

    /// Adds `id`; returns nothing (the optional lets `taskWaiters[task]?.insert(id) == nil` tell an absent key).
    mutating func insert(_ id: Int) {
        switch self {
        case .one(let first): self = .many([first, id])
        case .many(var ids):
            ids.append(id)
            self = .many(ids)
        }
    }

    /// The ids without `id`; nil if none is left.
    func removing(_ id: Int) -> WaiterIDs? {
        switch self {
        case .one(let only): return only == id ? nil : self
        case .many(var ids):
            ids.removeAll { $0 == id }
            if ids.count == 1 { return .one(ids[0]) }
            return ids.isEmpty ? nil : .many(ids)
        }
    }

    func forEach(_ body: (Int) -> Void) {
        switch self {
        case .one(let id): body(id)
        case .many(let ids): ids.forEach(body)
        }
    }
}

/// The deadlines of held waits in a min-heap, served by one timer. A waiter answered early leaves its entry
/// behind (removing it would cost a search); entries of answered waiters are dropped when they come up, or all
/// at once when they outnumber the live ones, so the heap stays within a small multiple of the held waits.
struct LongPollDeadlines {
    /// How late a timed-out wait may be answered: waits that end within it of the first are answered together.
    static let slack: TimeAmount = .milliseconds(2)

    /// A held wait's deadline; ordered by deadline alone.
    private struct Entry: Comparable {
        var deadline: NIODeadline
        var waiter: Int
        static func < (lhs: Entry, rhs: Entry) -> Bool { lhs.deadline < rhs.deadline }
    }

    private var heap = BinaryHeap<Entry>()

    var first: (NIODeadline, Int)? { heap.min.map { ($0.deadline, $0.waiter) } }
    var count: Int { heap.count }

    mutating func push(_ deadline: NIODeadline, waiter: Int) { heap.push(Entry(deadline: deadline, waiter: waiter)) }

    mutating func pop() { heap.pop() }

    mutating func removeAll() { heap = BinaryHeap() }

    /// Drops the entries of answered waiters when they are more than twice the live ones (and a few).
    mutating func noteResolved(liveWaiters: Int, isLive: (Int) -> Bool) {
        guard heap.count > 2 * liveWaiters + 1024 else { return }
        heap.removeAll { !isLive($0.waiter) }
    }
}
