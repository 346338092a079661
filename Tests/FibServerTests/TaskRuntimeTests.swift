import FibCore
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import FibServer

/// A store that keeps commits in memory, writes them on the caller's thread as SQLite does, and fails on demand.
final class MemoryStore: TaskStore, @unchecked Sendable {
    private let state = Mutex<(commits: [StateChanges], failing: Bool)>(([], false))

    var commits: [StateChanges] { state.withLock { $0.commits } }
    var failing: Bool {
        get { state.withLock { $0.failing } }
        set { state.withLock { $0.failing = newValue } }
    }

    func load() throws(StoreError) -> StoredState { StoredState() }

    func commit(_ changes: StateChanges, completion: @escaping @Sendable (StoreError?) -> Void) {
        let failing = state.withLock { state -> Bool in
            if !state.failing { state.commits.append(changes) }
            return state.failing
        }
        completion(failing ? StoreError("the disk is full") : nil)
    }

    var pendingCommits: Int { 0 }

    func close(timeoutNanos: UInt64) {}
}

/// Jobs the runtime sent, answered by the test.
final class RecordingPool: WorkerPoolControl, @unchecked Sendable {
    var started: [(job: Job, worker: WorkerID)] = []
    func start(_ job: Job, on worker: WorkerID) { started.append((job, worker)) }
    func kill(_ worker: WorkerID) {}
}

/// A runtime on an event loop of its own, with one worker that the test answers by hand.
struct RuntimeHarness {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let runtime: TaskRuntime
    let pool = RecordingPool()
    let store = MemoryStore()

    init() throws {
        let loop = group.next()
        runtime = TaskRuntime(
            limits: SchedulerLimits(), workers: 1, eventLoop: loop, logger: Logger(label: "test"), store: store)
        runtime.pool = pool
        let runtime = self.runtime
        try loop.submit { runtime.workerReady(0, pid: 4242) }.wait()
        try runtime.ready.wait()
    }

    /// Answers every job sent so far, each in its own turn of the loop, as a worker's replies would come.
    func answerJobs() throws {
        let runtime = self.runtime
        let pool = self.pool
        while true {
            let next = try runtime.eventLoop.submit { () -> (Job, WorkerID)? in
                guard !pool.started.isEmpty else { return nil }
                let (job, worker) = pool.started.removeFirst()
                return (job, worker)
            }.wait()
            guard let (job, worker) = next else { return }
            try runtime.eventLoop.submit {
                let result = JobResult(digits: Array("\(job.n)".utf8), computeNanos: 1, encodeNanos: 1)
                runtime.jobFinished(worker, job: job.id, outcome: .success(result))
            }.wait()
        }
    }

    func shutdown() {
        try? group.syncShutdownGracefully()
    }
}

@Suite("Task runtime: commits and waits")
struct TaskRuntimeTests {
    @Test func aWaitedBatchIsAnsweredOnceItsLastTaskEndsAndIsWritten() throws {
        let harness = try RuntimeHarness()
        defer { harness.shutdown() }
        let requests = (0..<50).map { TaskRequest(n: UInt64(1000 + $0)) }
        let answer = harness.runtime.submit(requests, isBatch: true, wait: .seconds(30))
        try harness.answerJobs()
        let tasks = try answer.wait()
        #expect(tasks.count == 50)
        #expect(tasks.allSatisfy { $0.state == .done })
        // Every end the client was told of is in the store.
        let written = Dictionary(
            harness.store.commits.flatMap(\.tasks).map { ($0.id, $0.state) }, uniquingKeysWith: { $1 })
        #expect(tasks.allSatisfy { written[$0.id] == .done })
        let snapshot = try harness.runtime.snapshot().wait()
        #expect(snapshot.longPolls == 0)
    }

    @Test func aHeldWaitTimesOutWithTheTaskAsItIs() throws {
        let harness = try RuntimeHarness()
        defer { harness.shutdown() }
        // No job is answered here: the tasks never end.
        let pending = try #require(
            try harness.runtime.submit([TaskRequest(n: 2)], isBatch: false, wait: nil).wait().first)
        let start = NIODeadline.now()
        let held = try #require(try harness.runtime.task(pending.id, wait: .milliseconds(100)).wait())
        let elapsed = NIODeadline.now() - start
        #expect(!held.state.isFinal)
        #expect(elapsed >= .milliseconds(100))
        #expect(elapsed < .seconds(5))
        // A waited batch that times out is answered with its tasks as they are, once.
        let batch = try harness.runtime.submit(
            [TaskRequest(n: 3), TaskRequest(n: 4)], isBatch: true, wait: .milliseconds(50)
        ).wait()
        #expect(batch.count == 2 && batch.allSatisfy { !$0.state.isFinal })
        #expect(try harness.runtime.snapshot().wait().longPolls == 0)
    }

    @Test func aFailedWriteIsAnswered503AndNotAcknowledged() throws {
        let harness = try RuntimeHarness()
        defer { harness.shutdown() }
        harness.store.failing = true
        let refused = harness.runtime.submit([TaskRequest(n: 10)], isBatch: false, wait: nil)
        #expect(throws: Problem.self) { try refused.wait() }
        harness.store.failing = false
        let accepted = try harness.runtime.submit([TaskRequest(n: 11)], isBatch: false, wait: nil).wait()
        #expect(accepted.count == 1)
    }

    @Test func aTaskIsShownOnlyAsFarAsItIsWritten() throws {
        let harness = try RuntimeHarness()
        defer { harness.shutdown() }
        let task = try #require(
            try harness.runtime.submit([TaskRequest(n: 5)], isBatch: false, wait: nil).wait().first)
        // Nobody waits for its end: that flush may be put off, but a read of the task waits for it.
        try harness.answerJobs()
        let shown = try #require(try harness.runtime.task(task.id, wait: nil).wait())
        #expect(shown.state == .done)
        #expect(harness.store.commits.flatMap(\.tasks).last { $0.id == task.id }?.state == .done)
    }

    @Test func commandsOfOneTurnShareOneCommit() throws {
        let harness = try RuntimeHarness()
        defer { harness.shutdown() }
        let before = harness.store.commits.count
        let runtime = harness.runtime
        // Twenty submits queued on the loop together are written in one commit at the end of the turn.
        let answers = try runtime.eventLoop.submit {
            (0..<20).map { runtime.submit([TaskRequest(n: UInt64(100 + $0))], isBatch: false, wait: nil) }
        }.wait()
        for answer in answers { _ = try answer.wait() }
        #expect(harness.store.commits.count - before == 1)
    }
}
