import FibMath
import Testing

@testable import FibCore

/// Tasks submitted with `shared: false` get a computation of their own (Dask's `pure=False`).
@Suite struct SchedulerSharingTests {
    @Test func identicalUnsharedTasksRunAtOnceOnTwoWorkers() throws {
        let harness = SchedulerHarness()
        harness.ready(1)
        harness.ready(2)
        let first = try #require(harness.submit(30, .recursive, shared: false))
        let second = try #require(harness.submit(30, .recursive, shared: false))
        let starts = harness.takeActions().compactMap { action -> WorkerID? in
            if case .start(let job, let worker) = action, job.n == 30 { return worker }
            return nil
        }
        #expect(starts.sorted() == [1, 2], "one computation each, on both workers")
        #expect(harness.scheduler.counters.deduplicated == 0)
        #expect(harness.task(first.id)?.shared == false)
        #expect(harness.task(first.id)?.workerPID != harness.task(second.id)?.workerPID)

        harness.finish(1)
        harness.finish(2)
        for task in [first, second] {
            let ended = try #require(harness.task(task.id))
            #expect(ended.state == .done)
            #expect(!ended.cached)
        }
        expectCountersMatchTasks(harness.scheduler)
    }

    @Test func sharedTasksJoinNoUnsharedComputationAndStillCoalesce() throws {
        let harness = SchedulerHarness()
        harness.ready(1)
        harness.ready(2)
        let unshared = try #require(harness.submit(30, .recursive, shared: false))
        let shared = try #require(harness.submit(30, .recursive))
        let twin = try #require(harness.submit(30, .recursive))
        #expect(harness.takeActions().count == 2, "the unshared task and the shared pair: two jobs")
        #expect(harness.scheduler.counters.deduplicated == 1, "only the shared twin joined a computation")
        #expect(harness.task(shared.id)?.workerPID == harness.task(twin.id)?.workerPID)
        #expect(harness.task(shared.id)?.workerPID != harness.task(unshared.id)?.workerPID)

        // Cancelling the unshared task frees its worker; the shared computation goes on.
        _ = harness.scheduler.cancel(unshared.id, now: harness.now)
        #expect(harness.takeActions() == [.kill(1)])
        #expect(harness.state(shared) == .running)
        expectCountersMatchTasks(harness.scheduler)
    }

    @Test func anUnsharedTaskIsNeverAnsweredFromTheCacheButFillsIt() throws {
        let harness = SchedulerHarness()
        harness.ready(1)
        harness.submit(12)
        harness.takeActions()
        harness.finish(1)
        let cachedShared = try #require(harness.submit(12))
        #expect(cachedShared.cached && cachedShared.state == .done)

        let unshared = try #require(harness.submit(12, shared: false))
        #expect(unshared.state == .running && !unshared.cached, "computed although the cache has F(12)")
        harness.takeActions()
        harness.finish(1)
        #expect(harness.state(unshared) == .done)
        #expect(harness.task(unshared.id)?.cached == false)

        // Its result serves later shared tasks.
        let fresh = try #require(harness.submit(13, shared: false))
        harness.takeActions()
        harness.finish(1)
        #expect(harness.state(fresh) == .done)
        let later = try #require(harness.submit(13))
        #expect(later.cached && later.state == .done)
        expectCountersMatchTasks(harness.scheduler)
    }

    @Test func unsharedTasksNeedAQueueSlotEvenWhenTheCacheHasTheirResult() throws {
        let harness = SchedulerHarness(limits: SchedulerHarness.limits { $0.maxQueue = 1 })
        harness.ready(1)
        harness.submit(1)
        harness.takeActions()
        harness.finish(1)
        harness.submit(2)  // runs
        harness.submit(3)  // queued: the queue is full
        #expect(throws: SubmitRefusal.queueFull(limit: 1)) {
            try harness.scheduler.submit([TaskRequest(n: 1, shared: false)], isBatch: false, now: harness.now)
        }
        #expect(throws: SubmitRefusal.queueFull(limit: 1)) {
            try harness.scheduler.submit([TaskRequest(n: 2, shared: false)], isBatch: false, now: harness.now)
        }
        let answered = try harness.scheduler.submit([TaskRequest(n: 1)], isBatch: false, now: harness.now)
        #expect(answered.map(\.state) == [.done])
    }

    @Test func queuedUnsharedTasksStayUnsharedAfterARestore() throws {
        let before = SchedulerHarness()
        before.scheduler.recordsChanges = true
        let first = try #require(before.submit(30, .recursive, shared: false))
        let second = try #require(before.submit(30, .recursive, shared: false))
        let shared = try #require(before.submit(30, .recursive))
        let changes = before.scheduler.takeChanges()
        let stored = StoredState(tasks: changes.tasks, nextTaskID: changes.nextTaskID)

        let after = SchedulerHarness()
        after.scheduler.restore(stored, now: after.now)
        #expect(after.task(first.id)?.shared == false)
        #expect(after.task(shared.id)?.shared == true)
        for worker: WorkerID in 1...3 { after.ready(worker) }
        let starts = after.takeActions().filter { if case .start = $0 { return true } else { return false } }
        #expect(starts.count == 3, "each unshared task and the shared one: three computations")
        #expect(after.task(first.id)?.workerPID != after.task(second.id)?.workerPID)
        expectCountersMatchTasks(after.scheduler)
    }
}
