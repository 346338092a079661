import FibMath
import Testing

@testable import FibCore

@Suite struct SchedulerTimeoutTests {
    @Test func aRunningTaskTimesOutAtItsDeadline() throws {
        let harness = SchedulerHarness()
        harness.ready(1)
        let task = try #require(harness.submit(40, timeout: 0.5))
        let waiting = try #require(harness.submit(41))
        harness.takeActions()
        let started = harness.now
        #expect(harness.scheduler.nextWakeup == started.monotonicNanos + nanosPerSecond / 2)

        harness.advance(seconds: 0.4)
        harness.tick()
        #expect(harness.scheduler.task(task.id)?.state == .running)
        #expect(harness.takeActions().isEmpty)

        harness.advance(seconds: 0.1)
        harness.tick()
        let timedOut = try #require(harness.scheduler.task(task.id))
        #expect(timedOut.state == .timedOut)
        #expect(timedOut.error == "timed out after 0.5 s")
        #expect(timedOut.durationNanos == nanosPerSecond / 2)
        #expect(harness.scheduler.takeEndedTasks() == [task.id])
        #expect(harness.takeActions() == [.kill(1)], "nobody else waits: the worker is killed")
        #expect(harness.worker(1)?.state == .restarting)
        #expect(harness.scheduler.task(waiting.id)?.state == .queued)
        #expect(harness.events().last?.kind == .taskTimedOut)
        #expect(harness.events().last?.error == "timed out after 0.5 s")
        #expect(harness.scheduler.counters.timedOut == 1)
        expectCountersMatchTasks(harness.scheduler)

        harness.exited(1)
        harness.ready(1)
        #expect(harness.takeActions().compactMap(startedJob).map(\.job.n) == [41])
    }

    @Test func aTimeoutDoesNotKillWhileAnotherTaskWaits() throws {
        let harness = SchedulerHarness()
        harness.ready(1)
        let short = try #require(harness.submit(40, timeout: 2))
        let long = try #require(harness.submit(40, timeout: 10))
        harness.takeActions()
        harness.advance(seconds: 3)
        harness.tick()
        #expect(harness.scheduler.task(short.id)?.state == .timedOut)
        #expect(harness.scheduler.task(short.id)?.error == "timed out after 2 s")
        #expect(harness.scheduler.task(long.id)?.state == .running)
        #expect(harness.takeActions().isEmpty)
        #expect(harness.worker(1)?.task == long.id)
        harness.finish(1)
        #expect(harness.scheduler.task(long.id)?.state == .done)
        #expect(harness.takeActions().isEmpty)
    }

    @Test func theDeadlineCountsFromTheStartNotTheSubmit() throws {
        let harness = SchedulerHarness()
        let task = try #require(harness.submit(40, timeout: 1))
        #expect(harness.scheduler.nextWakeup == nil, "a queued task has no deadline yet")
        harness.advance(seconds: 5)
        harness.tick()
        #expect(harness.scheduler.task(task.id)?.state == .queued)
        harness.ready(1)
        harness.takeActions()
        #expect(harness.scheduler.nextWakeup == harness.now.monotonicNanos + nanosPerSecond)
        harness.advance(seconds: 1)
        harness.tick()
        #expect(harness.scheduler.task(task.id)?.state == .timedOut)
    }

    @Test func theDefaultTimeoutApplies() throws {
        let limits = SchedulerHarness.limits { $0.defaultTimeoutNanos = 7 * nanosPerSecond }
        let harness = SchedulerHarness(limits: limits)
        harness.ready(1)
        let task = try #require(harness.submit(40))
        #expect(task.timeoutNanos == 7 * nanosPerSecond)
        #expect(harness.scheduler.nextWakeup == harness.now.monotonicNanos + 7 * nanosPerSecond)
    }

    @Test func secondsAreFormattedShortly() {
        #expect(formatSeconds(500_000_000) == "0.5")
        #expect(formatSeconds(2 * nanosPerSecond) == "2")
        #expect(formatSeconds(1_250_000_000) == "1.25")
        #expect(formatSeconds(1) == "0.000000001")
        #expect(formatSeconds(3_000_000_010) == "3.00000001")
    }
}

@Suite struct SchedulerRetentionTests {
    /// Runs n on worker 1 to done with `digitCount` digits.
    private func runToDone(_ harness: SchedulerHarness, _ n: UInt64, digitCount: Int = 4) -> TaskID? {
        let task = harness.submit(n)
        harness.takeActions()
        harness.finish(1, digits: digits(count: digitCount))
        return task?.id
    }

    @Test func finishedTasksAreForgottenAfterTheRetentionTime() throws {
        let harness = SchedulerHarness(limits: SchedulerHarness.limits { $0.retainNanos = 10 * nanosPerSecond })
        harness.ready(1)
        let task = try #require(runToDone(harness, 1))
        let finished = harness.now
        #expect(harness.scheduler.nextWakeup == finished.monotonicNanos + 10 * nanosPerSecond)
        harness.advance(seconds: 9)
        harness.tick()
        #expect(harness.scheduler.task(task)?.state == .done)
        harness.advance(seconds: 1)
        harness.tick()
        #expect(harness.scheduler.task(task) == nil)
        #expect(harness.scheduler.nextWakeup == finished.monotonicNanos + 300 * nanosPerSecond, "a stale deadline")
        guard case .notFound = harness.scheduler.cancel(task, now: harness.now) else {
            Issue.record("a forgotten task is not found")
            return
        }
        #expect(harness.allTasks.isEmpty)
        #expect(harness.scheduler.counters.done == 1, "totals keep counting forgotten tasks")
        expectCountersMatchTasks(harness.scheduler, nothingForgotten: false)
    }

    @Test func onlyTheNewestRetainCountTasksAreKept() {
        let harness = SchedulerHarness(limits: SchedulerHarness.limits { $0.retainCount = 2 })
        harness.ready(1)
        let ids = (1...4).compactMap { runToDone(harness, UInt64($0)) }
        let queued = harness.submit(99)  // live tasks never count against retention
        #expect(ids.map { harness.scheduler.task($0) != nil } == [false, false, true, true])
        #expect(harness.allTasks.map(\.id) == Array(ids[2...]) + [queued?.id].compactMap { $0 })
    }

    @Test func resultsBeyondTheRetainedBytesGoOldestFirst() {
        let harness = SchedulerHarness(limits: SchedulerHarness.limits { $0.retainBytes = 10 })
        harness.ready(1)
        let ids = (1...3).compactMap { runToDone(harness, UInt64($0), digitCount: 4) }
        #expect(ids.map { harness.scheduler.task($0) != nil } == [false, true, true])
        let failed = harness.submit(50)
        harness.takeActions()
        harness.fail(1, message: "no")
        #expect(harness.scheduler.task(failed?.id ?? ids[0]) != nil, "a task without a result costs no bytes")
        #expect(harness.scheduler.task(ids[1]) != nil)
    }

    /// Retention may forget a task the moment it ends, but the call that ended it still answers with it.
    @Test func aTaskForgottenAtOnceIsStillAnswered() throws {
        let harness = SchedulerHarness(limits: SchedulerHarness.limits { $0.retainCount = 0 })
        harness.ready(1)
        _ = runToDone(harness, 3)
        let requests = [TaskRequest(n: 3), TaskRequest(n: 4), TaskRequest(n: 3)]
        let answered = try harness.scheduler.submit(requests, isBatch: true, now: harness.now)
        #expect(answered.map(\.n) == [3, 4, 3])
        #expect(answered.map(\.state) == [.done, .running, .done])
        #expect(answered[0].cached)
        let running = answered[1].id
        guard case .cancelled(let cancelled) = harness.scheduler.cancel(running, now: harness.now) else {
            Issue.record("the cancel is answered with the task")
            return
        }
        #expect(cancelled.state == .cancelled)
        #expect(harness.scheduler.task(running) == nil)
        #expect(harness.allTasks.isEmpty)
    }

    @Test func theEventLogOutlivesForgottenTasks() {
        let harness = SchedulerHarness(limits: SchedulerHarness.limits { $0.retainCount = 0 })
        harness.ready(1)
        let id = runToDone(harness, 3)
        #expect(id.flatMap { harness.scheduler.task($0) } == nil)
        #expect(harness.events().contains { $0.kind == .taskDone && $0.task == id })
    }
}

@Suite struct SchedulerBoundsTests {
    /// Tasks that end long before their deadline must not leave a deadline entry each behind.
    @Test func deadlinesOfEndedTasksDoNotPileUp() {
        let harness = SchedulerHarness()
        harness.ready(1)
        for n: UInt64 in 0..<2000 {
            harness.submit(n)
            harness.takeActions()
            harness.finish(1)
        }
        let last = harness.submit(5_000_000)
        #expect(harness.scheduler.deadlineEntryCount <= 66)
        #expect(harness.scheduler.nextWakeup != nil)
        harness.advance(seconds: 301)
        harness.tick()
        #expect(harness.task(last?.id)?.state == .timedOut)
        #expect(harness.scheduler.counters.done == 2000)
    }
}

@Suite struct SchedulerReloadTests {
    @Test func applyingSmallerRetentionForgetsAtOnce() {
        let harness = SchedulerHarness()
        harness.ready(1)
        for n: UInt64 in 1...4 {
            harness.submit(n)
            harness.takeActions()
            harness.finish(1)
        }
        var limits = harness.scheduler.limits
        limits.retainCount = 1
        harness.scheduler.apply(limits, now: harness.now)
        #expect(harness.allTasks.map(\.n) == [4])
        #expect(harness.scheduler.limits == limits)
    }

    @Test func anIdleLeavingWorkerGetsNoJobAndIsForgottenWhenItExits() {
        let harness = SchedulerHarness()
        harness.ready(1)
        harness.ready(2)
        harness.scheduler.workerLeaving(1)
        #expect(harness.scheduler.idleWorkerCount == 1)
        harness.submit(5)
        #expect(harness.takeActions().compactMap(startedJob).map(\.worker) == [2])
        harness.exited(1, exit: .exited(code: 0))
        #expect(harness.scheduler.workerRecords.map(\.id) == [2])
        #expect(harness.scheduler.counters.workerRestarts == 0)
    }

    @Test func aBusyLeavingWorkerFinishesItsTaskThenTakesNoOther() {
        let harness = SchedulerHarness()
        harness.ready(1)
        let first = harness.submit(5)
        harness.takeActions()
        harness.scheduler.workerLeaving(1)
        let second = harness.submit(6)
        harness.finish(1)
        #expect(harness.takeActions().isEmpty)
        #expect(harness.state(first) == .done)
        #expect(harness.state(second) == .queued)
        harness.exited(1, exit: .exited(code: 0))
        #expect(harness.scheduler.workerRecords.isEmpty)
        harness.ready(3)
        #expect(harness.takeActions().compactMap(startedJob).map(\.worker) == [3])
    }

    @Test func aLeavingWorkerThatDiesBusyHasItsTaskRequeued() {
        let harness = SchedulerHarness()
        harness.ready(1)
        harness.ready(2)
        let task = harness.submit(5)
        harness.takeActions()
        harness.scheduler.workerLeaving(1)
        harness.exited(1)
        #expect(harness.scheduler.workerRecords.map(\.id) == [2])
        #expect(harness.takeActions().compactMap(startedJob).map(\.worker) == [2])
        #expect(harness.state(task) == .running)
    }

    @Test func aRestartingWorkerThatLeavesIsForgottenAtOnce() {
        let harness = SchedulerHarness()
        harness.ready(1)
        harness.exited(1)
        harness.scheduler.workerLeaving(1)
        #expect(harness.scheduler.workerRecords.isEmpty)
    }

    @Test func aDrainingSchedulerStartsNoQueuedTask() {
        let harness = SchedulerHarness()
        harness.ready(1)
        let running = harness.submit(5)
        let queued = harness.submit(6)
        harness.takeActions()
        harness.scheduler.beginDraining()
        harness.finish(1)
        #expect(harness.takeActions().isEmpty)
        #expect(harness.state(running) == .done)
        #expect(harness.state(queued) == .queued)
    }
}
