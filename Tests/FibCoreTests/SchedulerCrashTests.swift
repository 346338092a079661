import FibMath
import Testing

@testable import FibCore

@Suite struct SchedulerCrashTests {
    @Test func aDeadWorkersTasksAreRequeuedThenGivenUpAfterMaxAttempts() throws {
        let harness = SchedulerHarness()
        harness.ready(1, pid: 100)
        let first = try #require(harness.submit(60))
        let second = try #require(harness.submit(60))
        let other = try #require(harness.submit(61))
        harness.takeActions()

        for attempt in 1...2 {
            #expect(harness.scheduler.task(first.id)?.attempts == attempt)
            let cursor = harness.scheduler.events.head
            harness.exited(1)
            for task in [first, second] {
                let requeued = harness.scheduler.task(task.id)
                #expect(requeued?.state == .queued)
                #expect(requeued?.workerPID == nil)
                #expect(requeued?.startedAt == nil)
            }
            let kinds = harness.events(after: cursor).map(\.kind)
            #expect(kinds == [.workerExited, .taskRequeued, .taskRequeued])
            #expect(harness.events(after: cursor).last?.error == "worker killed by signal 9 (SIGKILL)")
            #expect(harness.scheduler.counters.requeued == attempt)
            #expect(harness.worker(1)?.state == .restarting)
            #expect(harness.worker(1)?.pid == nil)
            #expect(harness.takeActions().isEmpty)
            expectCountersMatchTasks(harness.scheduler)

            let pid = Int32(100 + attempt)
            harness.ready(1, pid: pid)
            #expect(harness.takeActions().compactMap(startedJob).map(\.job.n) == [60], "it goes before 61 again")
            #expect(harness.scheduler.task(second.id)?.workerPID == pid)
            #expect(harness.events().last?.attempt == attempt + 1)
        }
        #expect(harness.scheduler.task(first.id)?.attempts == 3)
        _ = harness.scheduler.takeEndedTasks()
        harness.exited(1)
        for task in [first, second] {
            let failed = harness.scheduler.task(task.id)
            #expect(failed?.state == .failed)
            #expect(failed?.error == "worker killed by signal 9 (SIGKILL); gave up after 3 attempts")
        }
        #expect(Set(harness.scheduler.takeEndedTasks()) == [first.id, second.id])
        #expect(harness.scheduler.counters.failed == 2)
        #expect(harness.scheduler.counters.workerRestarts == 3)
        #expect(harness.worker(1)?.restarts == 3)
        expectCountersMatchTasks(harness.scheduler)
        harness.ready(1)
        #expect(harness.takeActions().compactMap(startedJob).map(\.job.n) == [61])
        #expect(harness.scheduler.task(other.id)?.attempts == 1)
    }

    @Test func anIdleWorkersDeathRequeuesNothing() {
        let harness = SchedulerHarness()
        harness.ready(1)
        harness.exited(1, exit: .exited(code: 3))
        #expect(harness.worker(1)?.state == .restarting)
        #expect(harness.scheduler.counters.requeued == 0)
        #expect(harness.events().last?.error == "worker exited with status 3")
        let task = harness.submit(5)
        #expect(task?.state == .queued, "a restarting worker takes nothing")
        #expect(harness.takeActions().isEmpty)
    }

    @Test func aTaskJoiningAfterACrashIsGivenUpWithTheOthers() throws {
        let harness = SchedulerHarness(limits: SchedulerHarness.limits { $0.maxAttempts = 2 })
        harness.ready(1)
        let first = try #require(harness.submit(60))
        harness.takeActions()
        harness.exited(1)
        harness.ready(1)
        harness.takeActions()
        let late = try #require(harness.submit(60))
        #expect(late.attempts == 1)
        harness.exited(1, exit: .signaled(signal: 11))
        #expect(harness.scheduler.task(late.id)?.state == .failed)
        #expect(
            harness.scheduler.task(first.id)?.error == "worker killed by signal 11 (SIGSEGV); gave up after 2 attempts")
    }

    @Test func exitMessagesNameTheSignal() {
        #expect(WorkerExit.signaled(signal: 9).description == "worker killed by signal 9 (SIGKILL)")
        #expect(WorkerExit.signaled(signal: 64).description == "worker killed by signal 64 (signal 64)")
        #expect(WorkerExit.exited(code: 0).description == "worker exited with status 0")
        #expect(signalName(15) == "SIGTERM")
    }
}
