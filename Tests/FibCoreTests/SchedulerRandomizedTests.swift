import FibMath
import Testing

@testable import FibCore

/// Drives the scheduler with thousands of random submits, cancels, answers, crashes and ticks, playing
/// the worker pool from its actions, and checks after every step that nothing is lost, nothing ends
/// twice, and the scheduler, the pool and the counters agree.
@Suite struct SchedulerRandomizedTests {
    struct Configuration: Sendable, CustomTestStringConvertible {
        var seed: UInt64
        var steps: Int
        var workers: Int
        var maxQueue: Int
        var retainCount: Int
        var cacheBytes: Int
        var maxJobsPerWorker: Int

        var testDescription: String {
            "seed \(seed), \(workers) workers, retain \(retainCount), \(maxJobsPerWorker) jobs a worker"
        }
        /// Nothing is forgotten, so the final-state totals can be compared exactly too.
        var keepsEverything: Bool { retainCount >= steps * 4 }
    }

    /// The worker pool as the test plays it.
    private enum Slot: Equatable {
        /// Spawned, not yet ready (also after an exit).
        case starting
        case idle
        /// The jobs sent and not answered, oldest first: the worker answers in order.
        case busy([Job])
        /// Told to die; its exit is still to be reported. Keeps the jobs whose answers may still arrive.
        case killed([Job])
    }

    private struct Run {
        let harness: SchedulerHarness
        let configuration: Configuration
        var generator: SplitMix64
        var slots: [WorkerID: Slot] = [:]
        var nextPID: Int32 = 100
        var pidOf: [WorkerID: Int32] = [:]
        var submitted: [TaskID] = []
        /// Submitted and not yet reported ended.
        var live: Set<TaskID> = []
        var ended: Set<TaskID> = []
        /// Ended tasks by the state they ended in, counted as they are reported (when still retained).
        var endedIn: [TaskState: Int] = [:]
        var steps = 0
        /// What was wrong with the actions of the last step.
        var actionProblems: [String] = []
        var finalEvents = 0
        /// Unshared tasks that ended done (each computed for itself).
        var unsharedDone = 0
        var eventCursor: UInt64 = 0

        init(_ configuration: Configuration) {
            self.configuration = configuration
            generator = SplitMix64(seed: configuration.seed)
            harness = SchedulerHarness(
                limits: SchedulerHarness.limits {
                    $0.maxQueue = configuration.maxQueue
                    $0.retainCount = configuration.retainCount
                    $0.cacheBytes = configuration.cacheBytes
                    $0.maxBatch = 4
                    $0.trivialJobNanos = SchedulerLimits().trivialJobNanos
                    $0.maxJobsPerWorker = configuration.maxJobsPerWorker
                })
            for worker in 1...configuration.workers { slots[worker] = .starting }
        }

        var scheduler: Scheduler { harness.scheduler }

        mutating func chance(_ percent: UInt64) -> Bool { generator.next() % 100 < percent }
        mutating func pick<T>(_ items: [T]) -> T? {
            items.isEmpty ? nil : items[Int(generator.next() % UInt64(items.count))]
        }

        /// Small n are trivial jobs; the large ones (recursive 30-33, fast 10^5 + 0-3) are not.
        mutating func randomRequest() -> TaskRequest {
            let algorithm: Algorithm = chance(20) ? .recursive : .fast
            let isLong = chance(35)
            let n = isLong ? (algorithm == .recursive ? 30 : 100_000) + generator.next() % 4 : generator.next() % 8
            let priority = Int(generator.next() % 5) - 2
            let timeout: UInt64? = chance(30) ? (1 + generator.next() % 5) * nanosPerSecond : nil
            // Some tasks opt out of sharing: they must neither coalesce nor be answered from the cache.
            let shared = !chance(20)
            return TaskRequest(n: n, algorithm: algorithm, priority: priority, timeoutNanos: timeout, shared: shared)
        }

        mutating func step() {
            let roll = generator.next() % 100
            switch roll {
            case 0..<30:
                let count = chance(25) ? Int(1 + generator.next() % 4) : 1
                let requests = (0..<count).map { _ in randomRequest() }
                if let tasks = try? scheduler.submit(requests, isBatch: count > 1, now: harness.now) {
                    #expect(tasks.count == count, "every accepted request is answered")
                    submitted += tasks.map(\.id)
                    live.formUnion(tasks.map(\.id))
                }
            case 30..<40:
                // Mostly live tasks (in submission order, so the run replays), sometimes any.
                let candidates = chance(70) ? submitted.filter { live.contains($0) } : submitted
                if let id = pick(candidates) { _ = scheduler.cancel(id, now: harness.now) }
            case 40..<62:
                let busy = slots.compactMap { worker, slot -> (WorkerID, [Job])? in
                    if case .busy(let jobs) = slot { return (worker, jobs) }
                    return nil
                }.sorted { $0.0 < $1.0 }
                if let (worker, jobs) = pick(busy), let job = jobs.first {
                    slots[worker] = jobs.count == 1 ? .idle : .busy(Array(jobs.dropFirst()))
                    let outcome: JobOutcome =
                        chance(10)
                        ? .failure("could not compute")
                        : .success(JobResult(digits: fakeDigits(job.n), computeNanos: 1, encodeNanos: 1))
                    scheduler.jobFinished(worker, job: job.id, outcome: outcome, now: harness.now)
                }
            case 62..<66:
                // An answer that raced a kill: the scheduler must drop it.
                let killed = slots.compactMap { worker, slot -> (WorkerID, [Job])? in
                    if case .killed(let jobs) = slot, !jobs.isEmpty { return (worker, jobs) }
                    return nil
                }.sorted { $0.0 < $1.0 }
                if let (worker, jobs) = pick(killed), let job = jobs.first {
                    slots[worker] = .killed(Array(jobs.dropFirst()))
                    let result = JobResult(digits: fakeDigits(job.n), computeNanos: 1, encodeNanos: 1)
                    scheduler.jobFinished(worker, job: job.id, outcome: .success(result), now: harness.now)
                }
            case 66..<72:
                let alive = slots.filter { $0.value != .starting }.map(\.key).sorted()
                if let worker = pick(alive) { exit(worker, .signaled(signal: 9)) }
            case 72..<80:
                let killed = slots.filter { if case .killed = $0.value { return true } else { return false } }
                if let worker = pick(killed.map(\.key).sorted()) { exit(worker, .signaled(signal: 9)) }
            case 80..<88:
                let starting = slots.filter { $0.value == .starting }.map(\.key).sorted()
                if let worker = pick(starting) {
                    nextPID += 1
                    pidOf[worker] = nextPID
                    slots[worker] = .idle
                    scheduler.workerReady(worker, pid: nextPID, now: harness.now)
                }
            default:
                harness.advance(seconds: Double(generator.next() % 2000) / 1000)
                harness.tick()
            }
            applyActions()
        }

        mutating func exit(_ worker: WorkerID, _ exit: WorkerExit) {
            slots[worker] = .starting
            scheduler.workerExited(worker, pid: pidOf[worker] ?? 0, exit: exit, now: harness.now)
        }

        mutating func applyActions() {
            for action in scheduler.takeActions() {
                switch action {
                case .start(let job, let worker):
                    switch slots[worker] {
                    case .idle:
                        slots[worker] = .busy([job])
                    case .busy(let jobs):
                        // Only trivial jobs queue behind others, and only behind trivial ones.
                        let limits = scheduler.limits
                        if !(jobs + [job]).allSatisfy({ limits.isTrivial(n: $0.n, algorithm: $0.algorithm) }) {
                            actionProblems.append("job \(job.id) sent to worker \(worker) with a non-trivial job")
                        }
                        if jobs.count >= limits.maxJobsPerWorker {
                            actionProblems.append("job \(job.id) sent to worker \(worker), which has \(jobs.count)")
                        }
                        slots[worker] = .busy(jobs + [job])
                    default:
                        actionProblems.append("job \(job.id) sent to worker \(worker), which cannot take one")
                    }
                case .kill(let worker):
                    guard case .busy(let jobs) = slots[worker] else {
                        actionProblems.append("kill of worker \(worker), which is \(String(describing: slots[worker]))")
                        continue
                    }
                    if let job = jobs.first, scheduler.limits.isTrivial(n: job.n, algorithm: job.algorithm) {
                        actionProblems.append("worker \(worker) killed for the trivial job \(job.id)")
                    }
                    slots[worker] = .killed(jobs)
                }
            }
        }

        /// What is wrong after this step; empty when all holds. Plain checks, not `#expect`, to stay fast.
        mutating func violations() -> [String] {
            var problems = actionProblems
            actionProblems = []
            func check(_ condition: Bool, _ message: @autoclosure () -> String) {
                if !condition { problems.append(message()) }
            }
            for id in scheduler.takeEndedTasks() {
                check(!ended.contains(id), "ended twice: \(id)")
                check(live.remove(id) != nil, "ended but never live: \(id)")
                ended.insert(id)
                if let task = scheduler.task(id) {
                    endedIn[task.state, default: 0] += 1
                    switch task.state {
                    case .done:
                        check(task.result == fakeDigits(task.n), "\(id) done with a wrong result")
                        check(task.shared || !task.cached, "unshared \(id) answered from the cache")
                        if !task.shared { unsharedDone += 1 }
                    case .failed, .cancelled, .timedOut: check(task.error != nil, "\(id) ended without an error")
                    case .queued, .running: check(false, "\(id) reported ended but \(task.state)")
                    }
                }
            }
            var liveTasks: [FibTask] = []
            for id in live {
                guard let task = scheduler.task(id) else {
                    check(false, "forgotten before it ended: \(id)")
                    continue
                }
                liveTasks.append(task)
                check(!task.state.isFinal, "\(id) is \(task.state) but was not reported ended")
                check(task.result == nil && task.error == nil, "\(id) live with a result or error")
            }

            var runningComputations: [ComputationKey: WorkerRecord] = [:]
            let limits = scheduler.limits
            for record in scheduler.workerRecords {
                let slot = slots[record.id]
                switch record.state {
                case .busy:
                    guard case .busy(let jobs) = slot else {
                        check(false, "worker \(record.id) busy but \(String(describing: slot))")
                        continue
                    }
                    check(
                        record.jobs.map(\.id) == jobs.map(\.id), "worker \(record.id) has other jobs than it was sent")
                    check(record.jobs.count <= limits.maxJobsPerWorker, "worker \(record.id) has too many jobs")
                    if jobs.count > 1 {
                        check(
                            jobs.allSatisfy { limits.isTrivial(n: $0.n, algorithm: $0.algorithm) },
                            "worker \(record.id) has a non-trivial job among others")
                    }
                    for (inFlight, job) in zip(record.jobs, jobs) {
                        check(
                            inFlight.isTrivial == limits.isTrivial(n: job.n, algorithm: job.algorithm),
                            "job \(job.id) marked trivial wrongly")
                        guard let key = inFlight.computation else { continue }
                        check(key.n == job.n && key.algorithm == job.algorithm, "job \(job.id) key")
                        if let owner = key.unsharedTask {
                            check(scheduler.task(owner)?.shared == false, "job \(job.id) is for shared \(owner)")
                        }
                        check(runningComputations[key] == nil, "\(key) runs twice")
                        runningComputations[key] = record
                    }
                    if record.computation != nil {
                        let shown = record.task.flatMap { scheduler.task($0)?.state }
                        check(
                            shown == .running, "worker \(record.id) shows a task that is \(String(describing: shown))")
                    } else {
                        check(record.task == nil, "worker \(record.id) shows a task of an abandoned job")
                        check(
                            record.jobs.first?.isTrivial == true, "worker \(record.id) left a non-trivial job running")
                    }
                case .idle:
                    check(slot == .idle, "worker \(record.id) idle but \(String(describing: slot))")
                    check(record.jobs.isEmpty, "idle worker \(record.id) has a job")
                case .restarting:
                    check(
                        slot == .starting || isKilled(slot),
                        "worker \(record.id) restarting but \(String(describing: slot))")
                    check(record.jobs.isEmpty, "restarting worker \(record.id) has a job")
                }
            }
            for task in liveTasks {
                // An unshared task's computation is keyed by its id: no identical task can be found in it.
                let worker = runningComputations[ComputationKey(of: task)]
                if task.state == .running {
                    check(worker != nil, "running \(task.id) without a worker")
                    check(task.workerPID == worker?.pid, "running \(task.id) shows another pid than its worker's")
                } else {
                    check(worker == nil, "queued \(task.id) while its computation runs")
                }
                check(task.attempts <= limits.maxAttempts, "\(task.id) has \(task.attempts) attempts")
            }
            if scheduler.idleWorkerCount > 0 {
                check(scheduler.counters.queued == 0, "an idle worker while work waits")
            }
            // The next job in line waits only if no worker may take it.
            if let next = scheduler.nextQueuedComputation(), limits.isTrivial(n: next.n, algorithm: next.algorithm) {
                let roomy = scheduler.workerRecords.filter {
                    $0.state == .busy && !$0.isLeaving && $0.jobs.count < limits.maxJobsPerWorker
                        && $0.jobs.first?.isTrivial == true
                }
                check(roomy.isEmpty, "trivial \(next) waits while worker \(roomy.map(\.id)) has room")
            }
            let counters = scheduler.counters
            check(counters.queued == liveTasks.count { $0.state == .queued }, "queued counter")
            check(counters.running == liveTasks.count { $0.state == .running }, "running counter")
            check(counters.submitted == submitted.count, "submitted counter")
            if configuration.keepsEverything {
                check(counters.done == endedIn[.done, default: 0], "done counter")
                check(counters.failed == endedIn[.failed, default: 0], "failed counter")
                check(counters.cancelled == endedIn[.cancelled, default: 0], "cancelled counter")
                check(counters.timedOut == endedIn[.timedOut, default: 0], "timed_out counter")
            }
            // The full recount lists every task kept: every few steps, to keep the run short.
            steps += 1
            if steps % 8 == 0 {
                problems += counterMismatches(scheduler, nothingForgotten: configuration.keepsEverything)
                let listed = scheduler.listTasks(states: [.queued, .running], after: nil, limit: .max).0
                check(Set(listed.map(\.id)) == live, "the live tasks listed are not the live tasks submitted")
            }

            if case .events(let events, let next) = scheduler.events.read(after: eventCursor, limit: .max) {
                for event in events {
                    switch event.kind {
                    case .taskDone, .taskFailed, .taskCancelled, .taskTimedOut: finalEvents += 1
                    default: break
                    }
                }
                eventCursor = next
            } else {
                check(false, "the event cursor expired")
            }
            check(finalEvents == ended.count, "\(finalEvents) final events for \(ended.count) ended tasks")
            return problems
        }

        private func isKilled(_ slot: Slot?) -> Bool {
            if case .killed = slot { return true }
            return false
        }
    }

    @Test(arguments: [
        Configuration(
            seed: 1, steps: 3000, workers: 3, maxQueue: 50, retainCount: 100_000, cacheBytes: 6, maxJobsPerWorker: 1),
        Configuration(
            seed: 2, steps: 2500, workers: 1, maxQueue: 8, retainCount: 100_000, cacheBytes: 4, maxJobsPerWorker: 3),
        Configuration(
            seed: 3, steps: 3000, workers: 4, maxQueue: 20, retainCount: 15, cacheBytes: 0, maxJobsPerWorker: 32),
        Configuration(
            seed: 4, steps: 4000, workers: 2, maxQueue: 60, retainCount: 100_000, cacheBytes: 0, maxJobsPerWorker: 4),
    ])
    func invariantsHoldUnderRandomOperations(_ configuration: Configuration) {
        var run = Run(configuration)
        for step in 0..<configuration.steps {
            run.step()
            let problems = run.violations()
            if !problems.isEmpty {
                Issue.record("step \(step): \(problems.joined(separator: "; "))")
                return
            }
        }
        let counters = run.scheduler.counters
        // The run must have exercised what it claims to.
        #expect(counters.done > 0)
        #expect(counters.cancelled > 0)
        #expect(counters.requeued > 0)
        #expect(counters.deduplicated > 0)
        #expect(counters.timedOut + counters.failed > 0)
        #expect(run.unsharedDone > 0)
    }
}
