import FibMath
import Testing

@testable import FibCore

@Suite struct SchedulerCancelTests {
    private func cancelledTask(_ outcome: CancelOutcome) -> FibTask? {
        if case .cancelled(let task) = outcome { return task }
        return nil
    }

    @Test func aQueuedTaskIsCancelledWithoutActions() throws {
        let harness = SchedulerHarness()
        let task = harness.submit(10)
        let outcome = harness.scheduler.cancel(try #require(task?.id), now: harness.now)
        let cancelled = cancelledTask(outcome)
        #expect(cancelled?.state == .cancelled)
        #expect(cancelled?.error == "cancelled by request")
        #expect(cancelled?.finishedAt == harness.now.wallNanos)
        #expect(harness.takeActions().isEmpty)
        #expect(harness.scheduler.takeEndedTasks() == [task?.id].compactMap { $0 })
        // Its computation is gone from the queue: a worker gets nothing.
        harness.ready(1)
        #expect(harness.takeActions().isEmpty)
        #expect(harness.worker(1)?.state == .idle)
        expectCountersMatchTasks(harness.scheduler)
    }

    @Test func aRunningUnsharedTaskKillsItsWorker() throws {
        let harness = SchedulerHarness()
        harness.ready(1, pid: 500)
        let task = try #require(harness.submit(10))
        let queued = try #require(harness.submit(11))
        let job = try #require(harness.takeActions().compactMap(startedJob).first?.job)

        let cancelled = cancelledTask(harness.scheduler.cancel(task.id, now: harness.now))
        #expect(cancelled?.state == .cancelled)
        #expect(cancelled?.workerPID == 500)
        #expect(harness.takeActions() == [.kill(1)])
        #expect(harness.worker(1)?.state == .restarting)
        #expect(harness.worker(1)?.job == nil)
        #expect(harness.scheduler.task(queued.id)?.state == .queued, "no worker is idle")
        expectCountersMatchTasks(harness.scheduler)

        // The answer that raced the kill is dropped.
        let late = JobResult(digits: fakeDigits(10), computeNanos: 1, encodeNanos: 1)
        harness.scheduler.jobFinished(1, job: job.id, outcome: .success(late), now: harness.now)
        #expect(harness.scheduler.task(task.id)?.state == .cancelled)
        #expect(!harness.scheduler.cache.contains(ComputationKey(n: 10, algorithm: .fast)))
        #expect(harness.worker(1)?.state == .restarting)
        #expect(harness.takeActions().isEmpty)

        // Its exit requeues nothing; the respawned worker takes the next job.
        harness.exited(1)
        #expect(harness.scheduler.counters.requeued == 0)
        #expect(harness.scheduler.task(queued.id)?.state == .queued)
        #expect(harness.takeActions().isEmpty)
        harness.ready(1, pid: 501)
        #expect(harness.takeActions().compactMap(startedJob).map(\.job.n) == [11])
        #expect(harness.scheduler.task(queued.id)?.workerPID == 501)
        #expect(harness.worker(1)?.restarts == 1)
        expectCountersMatchTasks(harness.scheduler)
    }

    @Test func cancellingOneOfTwoSharersDoesNotKill() throws {
        let harness = SchedulerHarness()
        harness.ready(1)
        let first = try #require(harness.submit(10))
        let second = try #require(harness.submit(10))
        harness.takeActions()
        #expect(harness.worker(1)?.task == first.id)

        _ = harness.scheduler.cancel(first.id, now: harness.now)
        #expect(harness.takeActions().isEmpty)
        #expect(harness.worker(1)?.state == .busy)
        #expect(harness.worker(1)?.task == second.id, "the worker shows a task still waiting for it")
        #expect(harness.scheduler.task(second.id)?.state == .running)
        harness.finish(1)
        #expect(harness.scheduler.task(second.id)?.state == .done)
        #expect(harness.scheduler.task(first.id)?.state == .cancelled)
        #expect(harness.takeActions().isEmpty)

        // When the last sharer goes too, the worker is killed.
        let third = try #require(harness.submit(12))
        let fourth = try #require(harness.submit(12))
        harness.takeActions()
        _ = harness.scheduler.cancel(third.id, now: harness.now)
        #expect(harness.takeActions().isEmpty)
        _ = harness.scheduler.cancel(fourth.id, now: harness.now)
        #expect(harness.takeActions() == [.kill(1)])
        expectCountersMatchTasks(harness.scheduler)
    }

    @Test func cancellingAQueuedSharerKeepsTheComputationQueued() throws {
        let harness = SchedulerHarness()
        let first = try #require(harness.submit(10))
        let second = try #require(harness.submit(10))
        _ = harness.scheduler.cancel(first.id, now: harness.now)
        harness.ready(1)
        #expect(harness.takeActions().compactMap(startedJob).map(\.job.n) == [10])
        #expect(harness.scheduler.task(second.id)?.state == .running)
    }

    @Test func cancelOutcomesForEveryKindOfTask() throws {
        let harness = SchedulerHarness()
        harness.ready(1)
        let task = try #require(harness.submit(10))
        harness.takeActions()
        _ = harness.scheduler.cancel(task.id, now: harness.now)
        harness.advance(seconds: 1)
        let again = cancelledTask(harness.scheduler.cancel(task.id, now: harness.now))
        #expect(again?.state == .cancelled, "cancelling twice answers cancelled again")
        #expect(again?.finishedAt == harness.now.wallNanos - Int64(nanosPerSecond), "and changes nothing")
        #expect(harness.scheduler.counters.cancelled == 1)
        #expect(harness.scheduler.takeEndedTasks() == [task.id], "ended once")
        #expect(harness.takeActions() == [.kill(1)])

        harness.exited(1)
        harness.ready(1)
        let done = try #require(harness.submit(11))
        harness.takeActions()
        harness.finish(1)
        guard case .alreadyEnded(let ended) = harness.scheduler.cancel(done.id, now: harness.now) else {
            Issue.record("a done task cannot be cancelled")
            return
        }
        #expect(ended.state == .done)
        #expect(harness.scheduler.task(done.id)?.state == .done)

        guard case .notFound = harness.scheduler.cancel(TaskID(rawValue: 999_999), now: harness.now) else {
            Issue.record("an unknown id is not found")
            return
        }
        expectCountersMatchTasks(harness.scheduler)
    }
}
