import FibMath
import Testing

@testable import FibCore

/// Several trivial jobs in flight per worker: who may queue behind whom, and what cancel, timeouts and
/// deaths do to the jobs in flight.
@Suite struct SchedulerPipeliningTests {
    /// A job that takes seconds: recursive F(40) is about 330 million calls.
    static let long: (n: UInt64, algorithm: Algorithm) = (40, .recursive)

    private func pipelining(_ change: (inout SchedulerLimits) -> Void = { _ in }) -> SchedulerHarness {
        var limits = SchedulerHarness.pipelining
        change(&limits)
        return SchedulerHarness(limits: limits)
    }

    private func starts(_ harness: SchedulerHarness) -> [(n: UInt64, worker: WorkerID)] {
        harness.takeActions().compactMap(startedJob).map { ($0.job.n, $0.worker) }
    }

    @Test func theCostEstimateTellsTrivialJobsFromTheRest() {
        let limits = SchedulerLimits()
        for n: UInt64 in [0, 1, 2, 100, 1000, 4000] {
            #expect(limits.isTrivial(n: n, algorithm: .fast), "fast \(n)")
        }
        for n: UInt64 in [20_000, 100_000, 10_000_000] {
            #expect(!limits.isTrivial(n: n, algorithm: .fast), "fast \(n)")
        }
        for n: UInt64 in [0, 1, 10, 12] {
            #expect(limits.isTrivial(n: n, algorithm: .recursive), "recursive \(n)")
        }
        for n: UInt64 in [25, 30, 40, 92, 93] {
            #expect(!limits.isTrivial(n: n, algorithm: .recursive), "recursive \(n)")
        }
        // Refused at once by the worker: costs nothing.
        #expect(limits.isTrivial(n: 94, algorithm: .recursive))
        var previous: UInt64 = 0
        for n in stride(from: UInt64(0), through: 10_000_000, by: 9_973) {
            let estimate = Fibonacci.estimatedNanos(n, algorithm: .fast)
            #expect(estimate >= previous, "the estimate grows with n (\(n))")
            previous = estimate
        }
        let big = Fibonacci.estimatedNanos(10_000_000, algorithm: .fast)
        #expect(big > 50_000_000 && big < 1_000_000_000, "F(10^7) takes a few tenths of a second, not \(big) ns")
        #expect(Fibonacci.estimatedNanos(Fibonacci.maxFastN, algorithm: .fast) > big)
        #expect(Fibonacci.estimatedNanos(92, algorithm: .recursive) == UInt64.max)
    }

    @Test func trivialJobsQueueBehindBusyWorkersUpToTheBound() throws {
        let harness = pipelining { $0.maxJobsPerWorker = 3 }
        harness.ready(1)
        harness.ready(2)
        for n in 1...10 { harness.submit(UInt64(n)) }
        let started = starts(harness)
        // Idle workers first, then the least loaded, the lower id on a tie.
        #expect(started.map(\.n) == [1, 2, 3, 4, 5, 6])
        #expect(started.map(\.worker) == [1, 2, 1, 2, 1, 2])
        #expect(harness.worker(1)?.jobs.count == 3)
        #expect(harness.worker(1)?.job == harness.worker(1)?.jobs.first?.id, "it runs the oldest")
        #expect(harness.scheduler.counters.running == 6)
        #expect(harness.scheduler.counters.queued == 4)
        #expect(harness.scheduler.busyWorkerCount == 2)
        expectCountersMatchTasks(harness.scheduler)

        // Each answer makes room for one more.
        harness.finish(1)
        #expect(starts(harness).map { [$0.n, UInt64($0.worker)] } == [[7, 1]])
        #expect(harness.allTasks.first { $0.n == 1 }?.state == .done)
        #expect(harness.worker(1)?.task == harness.allTasks.first { $0.n == 3 }?.id, "it shows the job it runs")
        for _ in 0..<3 { harness.finish(2) }
        #expect(starts(harness).map(\.n) == [8, 9, 10])
        while !(harness.jobsOf[1] ?? []).isEmpty { harness.finish(1) }
        while !(harness.jobsOf[2] ?? []).isEmpty { harness.finish(2) }
        #expect(harness.scheduler.counters.done == 10)
        #expect(harness.scheduler.idleWorkerCount == 2)
        expectCountersMatchTasks(harness.scheduler)
    }

    @Test func aLongJobGoesOnlyToAnIdleWorkerAndNothingQueuesBehindIt() throws {
        let harness = pipelining()
        harness.ready(1)
        harness.ready(2)
        harness.submit(Self.long.n, Self.long.algorithm)
        harness.submit(1)
        harness.submit(2)
        #expect(starts(harness).map { [$0.n, UInt64($0.worker)] } == [[40, 1], [1, 2], [2, 2]])
        // Another long job waits for an idle worker, and a trivial one after it keeps the queue's order.
        harness.submit(Self.long.n + 1, Self.long.algorithm)
        harness.submit(3)
        #expect(starts(harness).isEmpty)
        harness.finish(2)
        #expect(starts(harness).isEmpty, "worker 2 still has a job")
        harness.finish(2)
        #expect(starts(harness).map { [$0.n, UInt64($0.worker)] } == [[41, 2]])
        #expect(harness.scheduler.counters.queued == 1, "F(3) waits: both workers run long jobs")
        harness.finish(1)
        #expect(starts(harness).map { [$0.n, UInt64($0.worker)] } == [[3, 1]])
    }

    @Test func eightLongTasksKeepBothWorkersBusyOneEach() {
        let harness = pipelining()
        harness.ready(1)
        harness.ready(2)
        for n in 30...37 { harness.submit(UInt64(n), .recursive) }
        #expect(starts(harness).map(\.worker) == [1, 2])
        harness.finish(2)
        #expect(starts(harness).map { [$0.n, UInt64($0.worker)] } == [[32, 2]])
        harness.finish(1)
        #expect(starts(harness).map { [$0.n, UInt64($0.worker)] } == [[33, 1]])
    }

    @Test func cancellingATrivialJobInFlightLeavesItToFinishAndDropsItsAnswer() throws {
        let harness = pipelining()
        harness.ready(1, pid: 700)
        let running = try #require(harness.submit(5))
        let behind = try #require(harness.submit(6))
        harness.takeActions()
        #expect(harness.worker(1)?.jobs.count == 2)

        guard case .cancelled(let cancelled) = harness.scheduler.cancel(behind.id, now: harness.now) else {
            Issue.record("a running task is cancelled")
            return
        }
        #expect(cancelled.workerPID == 700)
        #expect(harness.takeActions().isEmpty, "no kill for a trivial job")
        #expect(harness.worker(1)?.state == .busy)
        #expect(harness.worker(1)?.jobs.map(\.computation) == [ComputationKey(n: 5, algorithm: .fast), nil])

        // The head too: the worker shows no task while it finishes an abandoned job.
        _ = harness.scheduler.cancel(running.id, now: harness.now)
        #expect(harness.takeActions().isEmpty)
        #expect(harness.worker(1)?.task == nil)
        #expect(harness.worker(1)?.computation == nil)

        // A new task for F(5) is a new job, behind the abandoned ones; the stale answers do not end it.
        let again = try #require(harness.submit(5))
        #expect(starts(harness).map(\.n) == [5])
        harness.finish(1)
        harness.finish(1)
        #expect(harness.scheduler.task(again.id)?.state == .running)
        #expect(!harness.scheduler.cache.contains(ComputationKey(n: 6, algorithm: .fast)), "a dropped answer")
        #expect(harness.worker(1)?.task == again.id)
        harness.finish(1)
        #expect(harness.scheduler.task(again.id)?.state == .done)
        #expect(harness.scheduler.task(running.id)?.state == .cancelled)
        #expect(harness.scheduler.task(behind.id)?.state == .cancelled)
        #expect(harness.worker(1)?.state == .idle)
        #expect(harness.worker(1)?.done == 3)
        expectCountersMatchTasks(harness.scheduler)
    }

    @Test func aTrivialJobThatTimesOutIsNotKilled() throws {
        let harness = pipelining()
        harness.ready(1)
        let task = try #require(harness.submit(7, timeout: 1))
        harness.takeActions()
        harness.advance(seconds: 1)
        harness.tick()
        #expect(harness.scheduler.task(task.id)?.state == .timedOut)
        #expect(harness.takeActions().isEmpty)
        harness.finish(1)
        #expect(harness.scheduler.task(task.id)?.state == .timedOut)
        #expect(harness.worker(1)?.state == .idle)
    }

    @Test func cancellingALongJobStillKillsItsWorker() throws {
        let harness = pipelining()
        harness.ready(1)
        let task = try #require(harness.submit(Self.long.n, Self.long.algorithm))
        harness.takeActions()
        _ = harness.scheduler.cancel(task.id, now: harness.now)
        #expect(harness.takeActions() == [.kill(1)])
        #expect(harness.worker(1)?.state == .restarting)
    }

    @Test func aDeadWorkersJobsAreAllRequeuedAndOnlyTheOldestCountsAnAttempt() throws {
        let harness = pipelining()
        harness.ready(1, pid: 100)
        let tasks = try (1...3).map { n in try #require(harness.submit(UInt64(n))) }
        harness.takeActions()
        #expect(tasks.map { harness.scheduler.task($0.id)?.attempts } == [1, 1, 1])
        let cursor = harness.scheduler.events.head
        harness.exited(1)
        #expect(
            harness.events(after: cursor).map(\.kind) == [.workerExited] + Array(repeating: .taskRequeued, count: 3))
        #expect(tasks.map { harness.scheduler.task($0.id)?.state } == [.queued, .queued, .queued])
        #expect(tasks.map { harness.scheduler.task($0.id)?.attempts } == [1, 0, 0])
        #expect(harness.scheduler.counters.requeued == 3)
        expectCountersMatchTasks(harness.scheduler)

        harness.ready(1, pid: 101)
        #expect(starts(harness).map(\.n) == [1, 2, 3], "in their old order")
        #expect(tasks.map { harness.scheduler.task($0.id)?.attempts } == [2, 1, 1])
        #expect(tasks.map { harness.scheduler.task($0.id)?.workerPID } == [101, 101, 101])
        for _ in 0..<3 { harness.finish(1) }
        #expect(tasks.map { harness.scheduler.task($0.id)?.state } == [.done, .done, .done])
    }

    @Test func onlyTheJobItWasRunningIsGivenUpAfterMaxAttempts() throws {
        let harness = pipelining { $0.maxAttempts = 1 }
        harness.ready(1)
        let first = try #require(harness.submit(1))
        let second = try #require(harness.submit(2))
        harness.takeActions()
        harness.exited(1, exit: .signaled(signal: 11))
        #expect(harness.scheduler.task(first.id)?.state == .failed)
        #expect(
            harness.scheduler.task(first.id)?.error == "worker killed by signal 11 (SIGSEGV); gave up after 1 attempts")
        #expect(harness.scheduler.task(second.id)?.state == .queued)
        harness.ready(1)
        #expect(starts(harness).map(\.n) == [2])
    }

    @Test func aDeathWhileRunningAnAbandonedJobCountsNoAttempt() throws {
        let harness = pipelining { $0.maxAttempts = 1 }
        harness.ready(1)
        let abandoned = try #require(harness.submit(1))
        let behind = try #require(harness.submit(2))
        harness.takeActions()
        _ = harness.scheduler.cancel(abandoned.id, now: harness.now)
        harness.exited(1)
        #expect(harness.scheduler.task(behind.id)?.state == .queued)
        #expect(harness.scheduler.task(behind.id)?.attempts == 0)
    }

    @Test func aLeavingWorkerFinishesItsJobsAndTakesNoMore() throws {
        let harness = pipelining()
        harness.ready(1)
        harness.submit(1)
        harness.submit(2)
        harness.takeActions()
        harness.scheduler.workerLeaving(1)
        let waiting = try #require(harness.submit(3))
        #expect(starts(harness).isEmpty)
        harness.finish(1)
        harness.finish(1)
        #expect(starts(harness).isEmpty)
        #expect(harness.worker(1)?.state == .idle)
        #expect(harness.state(waiting) == .queued)
        harness.exited(1, exit: .exited(code: 0))
        #expect(harness.scheduler.workerRecords.isEmpty)
    }

    @Test func aDrainingSchedulerSendsNoMoreTrivialJobs() {
        let harness = pipelining()
        harness.ready(1)
        harness.submit(1)
        harness.takeActions()
        harness.scheduler.beginDraining()
        harness.finish(1)
        #expect(harness.takeActions().isEmpty)
    }

    @Test func identicalTrivialTasksShareOneJob() throws {
        let harness = pipelining()
        harness.ready(1)
        harness.submit(1)
        let first = try #require(harness.submit(2))
        let twin = try #require(harness.submit(2))
        #expect(starts(harness).map(\.n) == [1, 2])
        #expect(harness.scheduler.counters.deduplicated == 1)
        harness.finish(1)
        harness.finish(1)
        #expect(harness.scheduler.task(first.id)?.state == .done)
        #expect(harness.scheduler.task(twin.id)?.state == .done)
    }

    @Test func anAnswerOutOfOrderIsDropped() throws {
        let harness = pipelining()
        harness.ready(1)
        let first = try #require(harness.submit(1))
        let second = try #require(harness.submit(2))
        let jobs = harness.takeActions().compactMap(startedJob).map(\.job)
        let result = JobResult(digits: fakeDigits(2), computeNanos: 1, encodeNanos: 1)
        harness.scheduler.jobFinished(1, job: jobs[1].id, outcome: .success(result), now: harness.now)
        #expect(harness.scheduler.task(second.id)?.state == .running)
        #expect(harness.scheduler.task(first.id)?.state == .running)
        #expect(harness.worker(1)?.jobs.count == 2)
    }
}
