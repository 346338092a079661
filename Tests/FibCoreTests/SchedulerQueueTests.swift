import FibMath
import Testing

@testable import FibCore

@Suite struct SchedulerQueueTests {
    /// Runs the only worker until the queue is empty and gives the n of each job, in start order.
    private func drainOrder(_ harness: SchedulerHarness, worker: WorkerID = 1) -> [UInt64] {
        var order: [UInt64] = []
        while let started = harness.takeActions().compactMap(startedJob).first {
            order.append(started.job.n)
            harness.finish(worker)
            expectCountersMatchTasks(harness.scheduler)
        }
        return order
    }

    @Test func higherPriorityFirstThenSubmissionOrder() {
        let harness = SchedulerHarness()
        for (n, priority) in [(1, 0), (2, 0), (3, 5), (4, -3), (5, 5), (6, 0), (7, 1000), (8, -1000)] {
            harness.submit(UInt64(n), priority: priority)
        }
        #expect(harness.takeActions().isEmpty, "no worker yet")
        harness.ready(1)
        #expect(drainOrder(harness) == [7, 3, 5, 1, 2, 6, 4, 8])
        #expect(harness.scheduler.counters.done == 8)
    }

    @Test func oneJobPerIdleWorkerAndNoPrefetch() {
        let harness = SchedulerHarness()
        for n in 1...5 { harness.submit(UInt64(n)) }
        #expect(harness.takeActions().isEmpty)
        #expect(harness.scheduler.counters.queued == 5)

        harness.ready(1)
        let first = harness.takeActions()
        #expect(first.count == 1)
        #expect(first.compactMap(startedJob).map(\.worker) == [1])
        harness.ready(2)
        let second = harness.takeActions()
        #expect(second.compactMap(startedJob).map(\.job.n) == [2])
        #expect(second.compactMap(startedJob).map(\.worker) == [2])
        #expect(harness.scheduler.busyWorkerCount == 2)
        #expect(harness.scheduler.idleWorkerCount == 0)
        #expect(harness.scheduler.counters.queued == 3)
        #expect(harness.scheduler.counters.running == 2)
        expectCountersMatchTasks(harness.scheduler)

        // A finished worker takes exactly the next job, and nothing more is sent to anyone.
        harness.finish(1)
        let next = harness.takeActions()
        #expect(next.compactMap(startedJob).map(\.job.n) == [3])
        #expect(next.compactMap(startedJob).map(\.worker) == [1])
        #expect(next.count == 1)
        expectCountersMatchTasks(harness.scheduler)
    }

    @Test func finishingAJobLeavesTheWorkerIdleAndUnkilled() {
        let harness = SchedulerHarness()
        harness.ready(1)
        let task = harness.submit(10)
        #expect(harness.takeActions().count == 1)
        harness.finish(1)
        #expect(harness.takeActions().isEmpty, "a worker that answered is reused, not killed")
        #expect(harness.worker(1)?.state == .idle)
        #expect(harness.worker(1)?.done == 1)
        #expect(harness.task(task?.id)?.state == .done)
        #expect(harness.task(task?.id)?.result == fakeDigits(10))
        // The idle worker takes the next submit at once.
        harness.submit(11)
        #expect(harness.takeActions().compactMap(startedJob).map(\.job.n) == [11])
    }

    @Test func aRequeuedComputationGoesBeforeLaterOnes() {
        let harness = SchedulerHarness()
        harness.ready(1)
        harness.submit(1)
        #expect(harness.takeActions().compactMap(startedJob).map(\.job.n) == [1])
        harness.submit(2)
        harness.submit(3, priority: 1)
        harness.submit(4)
        harness.exited(1)
        harness.ready(1, pid: 2001)
        // 3 has the higher priority; then 1, submitted before 2 and 4, goes first again.
        #expect(drainOrder(harness) == [3, 1, 2, 4])
    }

    @Test func identicalQueuedTasksShareOneComputation() {
        let harness = SchedulerHarness()
        let first = harness.submit(30)
        let second = harness.submit(30)
        #expect(harness.scheduler.counters.deduplicated == 1)
        #expect(harness.scheduler.counters.queued == 2)
        harness.ready(1, pid: 4242)
        let actions = harness.takeActions()
        #expect(actions.count == 1, "one start for both tasks")
        for task in [first, second] {
            #expect(harness.task(task?.id)?.state == .running)
            #expect(harness.task(task?.id)?.workerPID == 4242)
            #expect(harness.task(task?.id)?.attempts == 1)
        }
        #expect(harness.worker(1)?.task == first?.id)
        _ = harness.scheduler.takeEndedTasks()
        harness.finish(1, digits: Array("832040".utf8))
        #expect(Set(harness.scheduler.takeEndedTasks()) == Set([first, second].compactMap { $0?.id }))
        #expect(harness.task(first?.id)?.result == Array("832040".utf8))
        #expect(harness.task(second?.id)?.result == Array("832040".utf8))
        #expect(harness.task(second?.id)?.cached == false)
        expectCountersMatchTasks(harness.scheduler)
    }

    @Test func aTaskJoiningARunningComputationIsRunningAtOnce() {
        let harness = SchedulerHarness()
        harness.ready(1, pid: 777)
        let first = harness.submit(50)
        #expect(harness.takeActions().count == 1)
        harness.advance(seconds: 2)
        let joiner = harness.submit(50)
        #expect(joiner?.state == .running)
        #expect(joiner?.workerPID == 777)
        #expect(joiner?.attempts == 1)
        #expect(joiner?.startedAt == harness.now.wallNanos)
        #expect(harness.takeActions().isEmpty, "no second start")
        #expect(harness.scheduler.counters.deduplicated == 1)
        #expect(harness.scheduler.counters.running == 2)
        expectCountersMatchTasks(harness.scheduler)
        harness.finish(1)
        #expect(harness.task(first?.id)?.state == .done)
        #expect(harness.task(joiner?.id)?.state == .done)
        #expect(harness.task(joiner?.id)?.durationNanos == 0)
        #expect(harness.task(first?.id)?.durationNanos == 2 * nanosPerSecond)
    }

    @Test func differentAlgorithmsAreDifferentComputations() {
        let harness = SchedulerHarness()
        harness.submit(20, .fast)
        harness.submit(20, .recursive)
        #expect(harness.scheduler.counters.deduplicated == 0)
        harness.ready(1)
        harness.ready(2)
        let jobs = harness.takeActions().compactMap(startedJob).map(\.job)
        #expect(jobs.map(\.algorithm) == [.fast, .recursive])
    }

    @Test func aHigherPriorityDuplicateRaisesTheQueuedComputation() {
        let harness = SchedulerHarness()
        harness.submit(1, priority: 3)
        harness.submit(2)
        harness.submit(3)
        harness.submit(3, priority: 5)
        harness.submit(2, priority: -7)  // lower: changes nothing
        harness.ready(1)
        #expect(drainOrder(harness) == [3, 1, 2])
        #expect(harness.scheduler.counters.deduplicated == 2)
    }

    /// Many priority raises leave stale queue entries that are dropped in bulk; no live computation may go with them.
    @Test func everyComputationRunsAfterManyPriorityRaises() {
        let harness = SchedulerHarness()
        let distinct: UInt64 = 100
        for n in 0..<distinct { harness.submit(n) }
        for priority in 1...4 {
            for n in 0..<distinct { harness.submit(n, priority: priority) }
        }
        harness.ready(1)
        let order = drainOrder(harness)
        #expect(order.count == Int(distinct))
        #expect(Set(order) == Set(0..<distinct))
        #expect(order == Array(0..<distinct), "all raised to the same priority: submission order")
        #expect(harness.scheduler.counters.queued == 0)
        #expect(harness.scheduler.counters.done == Int(distinct) * 5)
    }
}
