import FibMath
import Testing

@testable import FibCore

/// What a store would hand back: the tasks and events a recording scheduler changed, as last written.
private func storedState(of scheduler: Scheduler) -> StoredState {
    let changes = scheduler.takeChanges()
    var latest: [TaskID: FibTask] = [:]
    for task in changes.tasks { latest[task.id] = task }
    for id in changes.forgotten { latest[id] = nil }
    return StoredState(
        tasks: latest.values.sorted { $0.id < $1.id }, events: changes.events,
        eventHead: changes.events.last?.seq ?? 0, nextTaskID: changes.nextTaskID)
}

private func recording(_ limits: SchedulerLimits = SchedulerHarness.baseLimits) -> SchedulerHarness {
    let harness = SchedulerHarness(limits: limits, firstTaskID: 1)
    harness.scheduler.recordsChanges = true
    return harness
}

@Suite("Scheduler restore")
struct SchedulerRestoreTests {
    @Test func changesAreRecordedOnlyWhenAskedFor() throws {
        let harness = SchedulerHarness()
        harness.ready(0)
        harness.submit(10)
        #expect(harness.scheduler.takeChanges().isEmpty)
    }

    @Test func finishedQueuedAndRunningTasksComeBackAsPromised() throws {
        let before = recording()
        before.ready(0)
        let done = try #require(before.submit(100))
        before.takeActions()
        before.finish(0, digits: Array("354224848179261915075".utf8))
        let running = try #require(before.submit(200))
        let queued = try #require(before.submit(300, priority: 5))
        let twin = try #require(before.submit(300))
        before.takeActions()
        let stored = storedState(of: before.scheduler)

        let after = recording()
        after.now = before.now.advanced(byNanos: 10 * nanosPerSecond)
        let summary = after.scheduler.restore(stored, now: after.now)
        #expect(summary == RestoreSummary(finished: 1, queued: 2, requeued: 1, failed: 0, forgotten: 0))
        #expect(after.scheduler.task(done.id)?.state == .done)
        #expect(after.scheduler.task(done.id)?.result == Array("354224848179261915075".utf8))
        let requeued = try #require(after.scheduler.task(running.id))
        #expect(requeued.state == .queued)
        #expect(requeued.attempts == 1)
        #expect(requeued.startedAt == nil && requeued.workerPID == nil)
        #expect(after.scheduler.counters.queued == 3)
        #expect(after.scheduler.counters.done == 1)

        // The restore's own changes are recorded for the store: the requeued task and its event.
        let changes = after.scheduler.takeChanges()
        #expect(changes.tasks.map(\.id) == [running.id])
        #expect(changes.events.map(\.kind) == [.taskRequeued])
        #expect(changes.events.first?.seq == stored.eventHead + 1)

        // The queue keeps priorities: n=300 (priority 5) first, then the requeued n=200. Twins share a run.
        after.ready(0)
        let first = after.takeActions()
        guard case .start(let job, _) = first.first else {
            Issue.record("no job started: \(first)")
            return
        }
        #expect(job.n == 300)
        #expect(after.scheduler.task(queued.id)?.state == .running)
        #expect(after.scheduler.task(twin.id)?.state == .running)
        after.finish(0, digits: Array("222232244629420445529739893461909967206666939096499764990979600".utf8))
        let second = after.takeActions()
        guard case .start(let next, _) = second.first else {
            Issue.record("no second job: \(second)")
            return
        }
        #expect(next.n == 200)
        #expect(after.scheduler.task(running.id)?.attempts == 2)

        // A cached answer for a finished computation needs no worker.
        let again = try #require(after.submit(100))
        #expect(again.state == .done && again.cached)
        // New ids continue after the stored ones.
        #expect(again.id.rawValue > twin.id.rawValue)
    }

    @Test func aTaskCutOffAtItsLastAttemptFails() throws {
        let limits = SchedulerHarness.limits { $0.maxAttempts = 2 }
        var state = StoredState()
        state.tasks = [
            FibTask(
                id: TaskID(rawValue: 7), n: 40, algorithm: .recursive, priority: 0, timeoutNanos: nanosPerSecond,
                state: .running, attempts: 2, submittedAt: 1, startedAt: 2, workerPID: 99)
        ]
        state.nextTaskID = 8
        let after = recording(limits)
        let summary = after.scheduler.restore(state, now: after.now)
        #expect(summary.failed == 1)
        let task = try #require(after.scheduler.task(TaskID(rawValue: 7)))
        #expect(task.state == .failed)
        #expect(task.error == "fibd stopped during attempt 2 of 2 of this task; gave up")
        #expect(after.scheduler.takeEndedTasks() == [TaskID(rawValue: 7)])
        after.ready(0)
        #expect(after.takeActions().isEmpty)
    }

    @Test func retentionCountsFromWhenATaskFinished() throws {
        let limits = SchedulerHarness.limits { $0.retainNanos = 60 * nanosPerSecond }
        let harness = recording(limits)
        var state = StoredState()
        for (id, age) in [(1, 120), (2, 30)] {
            let finished = harness.now.wallNanos - Int64(age) * Int64(nanosPerSecond)
            state.tasks.append(
                FibTask(
                    id: TaskID(rawValue: UInt64(id)), n: 5, algorithm: .fast, priority: 0, timeoutNanos: 1,
                    state: .done, attempts: 1, submittedAt: finished, startedAt: finished, finishedAt: finished,
                    result: Array("5".utf8)))
        }
        let summary = harness.scheduler.restore(state, now: harness.now)
        #expect(summary.forgotten == 1)
        #expect(harness.scheduler.task(TaskID(rawValue: 1)) == nil)
        #expect(harness.scheduler.task(TaskID(rawValue: 2))?.state == .done)
        #expect(harness.scheduler.takeChanges().forgotten == [TaskID(rawValue: 1)])
    }

    @Test func eventCursorsReadOnAcrossARestartOrResync() throws {
        let before = recording()
        before.ready(0)
        before.submit(10)
        before.submit(11)
        let stored = storedState(of: before.scheduler)
        let head = stored.eventHead
        #expect(head >= 4)

        let after = recording()
        after.scheduler.restore(stored, now: after.now)
        guard case .events(let events, let next) = after.scheduler.events.read(after: head - 2, limit: 100) else {
            Issue.record("a cursor from before the restart expired")
            return
        }
        #expect(events.map(\.seq) == [head - 1, head] + (head + 1...after.scheduler.events.head).map { $0 })
        #expect(next == after.scheduler.events.head)

        // With a gap in what was written, only the events after it are taken back: older cursors resync.
        var gapped = stored
        gapped.events.removeAll { $0.seq == head - 1 }
        let resync = recording()
        resync.scheduler.restore(gapped, now: resync.now)
        if case .events = resync.scheduler.events.read(after: head - 3, limit: 100) {
            Issue.record("a cursor before the gap was served")
        }
        guard case .events(let tail, _) = resync.scheduler.events.read(after: head - 1, limit: 100) else {
            Issue.record("a cursor after the gap expired")
            return
        }
        #expect(tail.first?.seq == head)
    }

    @Test func theVisibleHeadHidesUnwrittenEvents() {
        var log = EventLog(capacity: 10, maxInlineResultBytes: 1000)
        for _ in 0..<5 { log.append(Event(kind: .workerReady, wallNanos: 0)) }
        guard case .events(let events, let next) = log.read(after: 1, limit: 10, visibleHead: 3) else {
            Issue.record("expired")
            return
        }
        #expect(events.map(\.seq) == [2, 3])
        #expect(next == 3)
        if case .events = log.read(after: 4, limit: 10, visibleHead: 3) { Issue.record("read past the visible head") }
    }
}
