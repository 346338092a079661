import FibMath
import Testing

@testable import FibCore

@Suite struct SchedulerSubmitTests {
    private func refusal(
        _ harness: SchedulerHarness, _ requests: [TaskRequest], isBatch: Bool = true
    ) -> SubmitRefusal? {
        do {
            _ = try harness.scheduler.submit(requests, isBatch: isBatch, now: harness.now)
            return nil
        } catch {
            return error
        }
    }

    @Test func aFullQueueRefusesAndTheBatchIsAllOrNothing() {
        let harness = SchedulerHarness(limits: SchedulerHarness.limits { $0.maxQueue = 3 })
        for n: UInt64 in 1...3 { harness.submit(n) }
        #expect(refusal(harness, [TaskRequest(n: 4)], isBatch: false) == .queueFull(limit: 3))
        #expect(harness.scheduler.counters.submitted == 3)

        // An idle worker takes one at once, so it makes room for one more.
        harness.ready(1)
        harness.takeActions()
        harness.submit(4)
        #expect(harness.scheduler.counters.queued == 3)
        harness.ready(2)
        harness.takeActions()
        let eventsBefore = harness.scheduler.events.head
        #expect(refusal(harness, [TaskRequest(n: 5), TaskRequest(n: 6)]) == .queueFull(limit: 3))
        #expect(harness.scheduler.counters.submitted == 4, "nothing of a refused batch is accepted")
        #expect(harness.allTasks.count == 4)
        #expect(harness.scheduler.events.head == eventsBefore, "no event for a refused batch")
        #expect(refusal(harness, [TaskRequest(n: 5)]) == nil)
        expectCountersMatchTasks(harness.scheduler)
    }

    @Test func tasksThatNeedNoQueueSlotAreAcceptedWhenFull() throws {
        let harness = SchedulerHarness(limits: SchedulerHarness.limits { $0.maxQueue = 1 })
        harness.ready(1)
        harness.submit(1)
        harness.takeActions()
        harness.finish(1)  // F(1) is now cached
        harness.submit(2)  // runs
        harness.submit(3)  // queued: the queue is full
        #expect(refusal(harness, [TaskRequest(n: 4)]) == .queueFull(limit: 1))
        let answered = try harness.scheduler.submit(
            [TaskRequest(n: 1), TaskRequest(n: 2)], isBatch: true, now: harness.now)
        #expect(answered.map(\.state) == [.done, .running])
        expectCountersMatchTasks(harness.scheduler)
    }

    @Test func batchSizeIsBounded() {
        let harness = SchedulerHarness(limits: SchedulerHarness.limits { $0.maxBatch = 3 })
        #expect(refusal(harness, []) == .batchSize(count: 0, limit: 3))
        #expect(refusal(harness, Array(repeating: TaskRequest(n: 1), count: 4)) == .batchSize(count: 4, limit: 3))
        #expect(refusal(harness, Array(repeating: TaskRequest(n: 1), count: 3)) == nil)
        #expect(harness.scheduler.counters.submitted == 3)
        #expect(harness.scheduler.counters.deduplicated == 2)
    }

    @Test func invalidRequestsAreRefusedWithTheirIndex() {
        let limits = SchedulerHarness.limits {
            $0.maxN = 100
            $0.maxTimeoutNanos = 60 * nanosPerSecond
        }
        let harness = SchedulerHarness(limits: limits)
        let good = TaskRequest(n: 100)
        let cases: [(TaskRequest, String)] = [
            (TaskRequest(n: 101), "n must be an integer from 0 to 100"),
            (
                TaskRequest(n: 94, algorithm: .recursive),
                "n must be at most 93 for the recursive algorithm (F(n) must fit in 64 bits); use fast"
            ),
            (TaskRequest(n: 1, priority: 1001), "priority must be an integer from -1000 to 1000"),
            (TaskRequest(n: 1, priority: -1001), "priority must be an integer from -1000 to 1000"),
            (TaskRequest(n: 1, timeoutNanos: 0), "timeout must be more than 0 and at most 60 seconds"),
            (
                TaskRequest(n: 1, timeoutNanos: 60 * nanosPerSecond + 1),
                "timeout must be more than 0 and at most 60 seconds"
            ),
        ]
        for (request, message) in cases {
            #expect(refusal(harness, [request], isBatch: false) == .invalid(index: nil, message: message))
            #expect(refusal(harness, [good, good, request, good]) == .invalid(index: 2, message: message))
        }
        #expect(harness.scheduler.counters.submitted == 0)
        #expect(harness.scheduler.events.head == 0)

        let edges = [
            TaskRequest(n: 93, algorithm: .recursive), TaskRequest(n: 0), TaskRequest(n: 1, priority: 1000),
            TaskRequest(n: 2, priority: -1000), TaskRequest(n: 3, timeoutNanos: 1),
            TaskRequest(n: 4, timeoutNanos: 60 * nanosPerSecond),
        ]
        #expect(refusal(harness, edges) == nil)
    }

    @Test func drainingRefusesSubmits() {
        let harness = SchedulerHarness()
        harness.ready(1)
        let running = harness.submit(5)
        harness.takeActions()
        harness.scheduler.beginDraining()
        #expect(harness.scheduler.isDraining)
        #expect(refusal(harness, [TaskRequest(n: 1)], isBatch: false) == .shuttingDown)
        harness.finish(1)
        #expect(harness.task(running?.id)?.state == .done, "work in flight goes on")
    }

    @Test func submittedTasksCarryWhatWasAsked() throws {
        let harness = SchedulerHarness(firstTaskID: 0xabc)
        let task = try #require(harness.submit(12, .recursive, priority: -4, timeout: 2.5))
        #expect(task.id == TaskID(rawValue: 0xabc))
        #expect(task.n == 12)
        #expect(task.algorithm == .recursive)
        #expect(task.priority == -4)
        #expect(task.timeoutNanos == 2_500_000_000)
        #expect(task.state == .queued)
        #expect(task.attempts == 0)
        #expect(task.submittedAt == harness.now.wallNanos)
        #expect(task.startedAt == nil)
        #expect(task.workerPID == nil)
        #expect(harness.submit(12)?.id == TaskID(rawValue: 0xabd))
    }
}

@Suite struct ListTasksTests {
    @Test func pagesByCursorInSubmissionOrder() {
        let harness = SchedulerHarness()
        let ids = (1...5).compactMap { harness.submit(UInt64($0))?.id }
        let (first, cursor1) = harness.scheduler.listTasks(states: nil, after: nil, limit: 2)
        #expect(first.map(\.id) == Array(ids[0..<2]))
        #expect(cursor1 == ids[1])
        let (second, cursor2) = harness.scheduler.listTasks(states: nil, after: cursor1, limit: 2)
        #expect(second.map(\.id) == Array(ids[2..<4]))
        let (third, cursor3) = harness.scheduler.listTasks(states: nil, after: cursor2, limit: 2)
        #expect(third.map(\.id) == [ids[4]])
        #expect(cursor3 == nil)
        let (exact, end) = harness.scheduler.listTasks(states: nil, after: ids[2], limit: 2)
        #expect(exact.map(\.id) == Array(ids[3...]))
        #expect(end == nil, "no next cursor when the page ends exactly at the last task")
        #expect(harness.scheduler.listTasks(states: nil, after: ids[4], limit: 10).0.isEmpty)
    }

    @Test func filtersByState() {
        let harness = SchedulerHarness()
        harness.ready(1)
        let ids = (1...6).compactMap { harness.submit(UInt64($0))?.id }
        harness.takeActions()
        harness.finish(1)  // 1 done, 2 running
        _ = harness.scheduler.cancel(ids[3], now: harness.now)
        let (queued, next) = harness.scheduler.listTasks(states: [.queued], after: nil, limit: 2)
        #expect(queued.map(\.id) == [ids[2], ids[4]])
        #expect(next == ids[4])
        let (rest, end) = harness.scheduler.listTasks(states: [.queued], after: next, limit: 2)
        #expect(rest.map(\.id) == [ids[5]])
        #expect(end == nil)
        let (live, _) = harness.scheduler.listTasks(states: [.queued, .running], after: nil, limit: 100)
        #expect(live.map(\.id) == [ids[1], ids[2], ids[4], ids[5]])
        let (ended, _) = harness.scheduler.listTasks(states: [.done, .cancelled], after: nil, limit: 100)
        #expect(ended.map(\.id) == [ids[0], ids[3]])
        #expect(harness.scheduler.listTasks(states: [.timedOut], after: nil, limit: 100).0.isEmpty)
    }

    @Test func aCursorOfAForgottenTaskStillPages() {
        let harness = SchedulerHarness(limits: SchedulerHarness.limits { $0.retainCount = 1 })
        harness.ready(1)
        var ids: [TaskID] = []
        for n: UInt64 in 1...3 {
            if let id = harness.submit(n)?.id { ids.append(id) }
            harness.takeActions()
            harness.finish(1)
        }
        let live = harness.submit(9)?.id
        #expect(harness.scheduler.task(ids[0]) == nil)
        let (page, _) = harness.scheduler.listTasks(states: nil, after: ids[0], limit: 10)
        #expect(page.map(\.id) == [ids[2], live].compactMap { $0 })
    }
}
