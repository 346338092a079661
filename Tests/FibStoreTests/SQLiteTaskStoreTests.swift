import Dispatch
import FibCore
import FibMath
import Foundation
import Synchronization
import Testing

@testable import FibStore

/// A fresh directory under the system's temporary directory, removed by `cleanUp()`.
struct ScratchDirectory {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "fibstore-" + UUID().uuidString
    }

    var databasePath: String { path + "/" + SQLiteTaskStore.fileName }

    func cleanUp() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Commits and waits (at most 10 s) for the completion; the error it reported, or a timeout error.
func commitAndWait(_ store: SQLiteTaskStore, _ changes: StateChanges) -> StoreError? {
    let done = DispatchSemaphore(value: 0)
    let outcome = Mutex<StoreError?>(StoreError("no completion within 10 s"))
    store.commit(changes) { error in
        outcome.withLock { $0 = error }
        done.signal()
    }
    _ = done.wait(timeout: .now() + .seconds(10))
    return outcome.withLock { $0 }
}

/// A scheduler that records its changes, with a clock moved by hand and one worker that answers jobs.
final class RecordingScheduler {
    let scheduler: Scheduler
    var now = Moment(monotonicNanos: 1_000 * nanosPerSecond, wallNanos: 1_800_000_000 * 1_000_000_000)

    init(limits: SchedulerLimits = SchedulerLimits(), firstTaskID: UInt64 = 100, restoring stored: StoredState? = nil) {
        scheduler = Scheduler(limits: limits, firstTaskID: firstTaskID)
        scheduler.recordsChanges = true
        if let stored { scheduler.restore(stored, now: now) }
    }

    @discardableResult
    func submit(_ n: UInt64, _ algorithm: Algorithm = .fast) throws -> FibTask {
        let tasks = try scheduler.submit([TaskRequest(n: n, algorithm: algorithm)], isBatch: false, now: now)
        return try #require(tasks.first)
    }

    /// Answers every started job with the right digits.
    func answerJobs() {
        for action in scheduler.takeActions() {
            guard case .start(let job, let worker) = action else { continue }
            let digits = (try? Fibonacci.decimal(job.n, algorithm: job.algorithm)) ?? []
            let result = JobResult(digits: digits, computeNanos: 1, encodeNanos: 1)
            now = now.advanced(byNanos: 1_000_000)
            scheduler.jobFinished(worker, job: job.id, outcome: .success(result), now: now)
        }
    }
}

/// The nice value of every thread of this process (field 19 of /proc/self/task/TID/stat).
func threadNiceValues() -> [Int] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    return tasks.compactMap { tid in
        guard let stat = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        // After the command name in parentheses: state is field 3, nice is field 19.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 16 ? Int(fields[16]) : nil
    }
}

/// The size of a file in bytes; 0 if it does not exist.
func fileSize(_ path: String) -> UInt64 {
    let attributes = try? FileManager.default.attributesOfItem(atPath: path)
    return (attributes?[.size] as? NSNumber)?.uint64Value ?? 0
}

@Suite("SQLite task store")
struct SQLiteTaskStoreTests {
    @Test func aNewDirectoryStartsEmptyAndIsCreated() throws {
        let scratch = ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try SQLiteTaskStore(directory: scratch.path + "/nested/state", eventCapacity: 100)
        let state = try store.load()
        #expect(state.tasks.isEmpty)
        #expect(state.events.isEmpty)
        #expect(state.eventHead == 0)
        #expect(FileManager.default.fileExists(atPath: scratch.path + "/nested/state/fibd.db"))
        store.close(timeoutNanos: 5 * nanosPerSecond)
    }

    @Test func tasksResultsAndEventsSurviveAReopen() throws {
        let scratch = ScratchDirectory()
        defer { scratch.cleanUp() }
        let run = RecordingScheduler()
        run.scheduler.workerReady(0, pid: 4242, now: run.now)
        let done = try run.submit(1000)
        run.answerJobs()
        let queued = try run.submit(2000)  // starts on worker 0, which is then busy
        let waiting = try run.submit(30, .recursive)
        let twin = try run.submit(1000)  // answered from the cache
        let unshared = try #require(
            try run.scheduler.submit([TaskRequest(n: 2000, shared: false)], isBatch: false, now: run.now).first)
        let expected = run.scheduler.takeChanges()

        var store: SQLiteTaskStore? = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 1000)
        #expect(commitAndWait(try #require(store), expected) == nil)
        store?.close(timeoutNanos: 5 * nanosPerSecond)
        store = nil

        let reopened = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 1000)
        let state = try reopened.load()
        #expect(state.tasks.map(\.id) == [done.id, queued.id, waiting.id, twin.id, unshared.id])
        let byID = Dictionary(uniqueKeysWithValues: state.tasks.map { ($0.id, $0) })
        let first = try #require(byID[done.id])
        #expect(first.state == .done)
        #expect(first.result == (try Fibonacci.decimal(1000, algorithm: .fast)))
        #expect(first.workerPID == 4242)
        #expect(first.attempts == 1)
        #expect(first.startedAt != nil && first.finishedAt != nil)
        #expect(byID[twin.id]?.cached == true)
        #expect(byID[twin.id]?.result == first.result)
        #expect(byID[queued.id]?.state == .running)
        #expect(byID[waiting.id]?.state == .queued)
        #expect(byID[waiting.id]?.algorithm == .recursive)
        #expect(state.events.map(\.seq) == expected.events.map(\.seq))
        #expect(state.events.map(\.kind) == expected.events.map(\.kind))
        #expect(state.eventHead == expected.events.last?.seq)
        #expect(state.nextTaskID == unshared.id.rawValue + 1)
        #expect(byID[unshared.id]?.shared == false, "queued apart from the running n=2000")
        #expect(byID[unshared.id]?.state == .queued)
        #expect(state.tasks.filter { $0.id != unshared.id }.allSatisfy { $0.shared })
        let doneEvent = try #require(state.events.first { $0.kind == .taskDone })
        #expect(doneEvent.result == first.result)
        #expect(doneEvent.digits == first.result?.count)
        #expect(doneEvent.durationNanos != nil)
        reopened.close(timeoutNanos: 5 * nanosPerSecond)
    }

    @Test func aResultIsStoredOncePerComputationAndDeletedWithItsLastTask() throws {
        let scratch = ScratchDirectory()
        defer { scratch.cleanUp() }
        var limits = SchedulerLimits()
        limits.retainCount = 2
        let run = RecordingScheduler(limits: limits)
        run.scheduler.workerReady(0, pid: 1, now: run.now)
        try run.submit(500)
        run.answerJobs()
        try run.submit(500)  // cached: same result
        let store = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 1000)
        #expect(commitAndWait(store, run.scheduler.takeChanges()) == nil)
        #expect(store.storedResultCount() == 1)

        // Two more finished tasks push both n=500 tasks out (retain-count 2): their result goes too.
        try run.submit(501)
        run.answerJobs()
        try run.submit(502)
        run.answerJobs()
        #expect(commitAndWait(store, run.scheduler.takeChanges()) == nil)
        #expect(store.storedResultCount() == 2)
        store.close(timeoutNanos: 5 * nanosPerSecond)

        let state = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 1000).load()
        #expect(state.tasks.map(\.n) == [501, 502])
    }

    @Test func aCommitIsWrittenBeforeItReturnsAndCompletesOnTheCallersThread() throws {
        let scratch = ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 100_000)
        let run = RecordingScheduler()
        let completed = Mutex<[Int]>([])
        for n in 0..<2000 {
            try run.submit(UInt64(n))
            store.commit(run.scheduler.takeChanges()) { error in
                #expect(error == nil)
                completed.withLock { $0.append(n) }
            }
            // The completion ran before commit returned.
            #expect(completed.withLock { $0.last } == n)
        }
        #expect(store.transactionCount == 2000)
        #expect(store.pendingCommits == 0)
        store.close(timeoutNanos: 5 * nanosPerSecond)
        let state = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 100_000).load()
        #expect(state.tasks.count == 2000)
        #expect(Set(state.tasks.map(\.id)).count == 2000)
    }

    @Test func theWALIsCheckpointedOffTheWriterAndBounded() throws {
        let scratch = ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 1_000_000)
        var limits = SchedulerLimits()
        limits.maxQueue = 1_000_000
        let run = RecordingScheduler(limits: limits)
        let walPath = scratch.databasePath + "-wal"
        let cap = SQLiteTaskStore.walCapBytes
        // Commits of about 100 KB each: the WAL passes the checkpointer's threshold many times over.
        var largest: UInt64 = 0
        for round in 0..<800 {
            for k in 0..<200 { try run.submit(UInt64(round * 200 + k)) }
            #expect(store.write(run.scheduler.takeChanges()) == nil)
            largest = max(largest, fileSize(walPath))
        }
        #expect(store.checkpointerRuns > 0)
        // The checkpoints ran on a thread at a lower priority than the writer's, which is left as it was.
        #expect(threadNiceValues().contains(Int(WALCheckpointer.threadNiceness)))
        #expect(getpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0) == 0)
        // Never much past the cap (one commit's worth at most).
        #expect(largest < UInt64(cap) + 8 << 20, "the WAL grew to \(largest) bytes")
        store.close(timeoutNanos: 5 * nanosPerSecond)
        // A clean stop leaves the database alone: the WAL is empty or gone.
        #expect(fileSize(walPath) == 0)
        let state = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 1_000_000).load()
        #expect(state.tasks.count == 160_000)
    }

    @Test func anIdleWALIsCheckpointed() throws {
        let scratch = ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 1000)
        let run = RecordingScheduler()
        try run.submit(1)
        #expect(store.write(run.scheduler.takeChanges()) == nil)
        // Within a few idle checks (one a second), the checkpointer copies the WAL into the database.
        let deadline = ContinuousClock.now + .seconds(10)
        while store.checkpointerRuns == 0, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.05)
        }
        #expect(store.checkpointerRuns > 0)
        store.close(timeoutNanos: 5 * nanosPerSecond)
    }

    @Test func onlyTheNewestEventsAreKept() throws {
        let scratch = ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 10)
        let run = RecordingScheduler()
        for n in 0..<20 { try run.submit(UInt64(n)) }
        #expect(commitAndWait(store, run.scheduler.takeChanges()) == nil)
        store.close(timeoutNanos: 5 * nanosPerSecond)
        let state = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 10).load()
        #expect(state.events.map(\.seq) == Array(11...20))
        #expect(state.eventHead == 20)
    }

    @Test func theCountersAreWrittenOnlyWhenTheTablesCannotTellAndIdsAreNeverReused() throws {
        let scratch = ScratchDirectory()
        defer { scratch.cleanUp() }
        var limits = SchedulerLimits()
        limits.retainNanos = 60 * nanosPerSecond
        let run = RecordingScheduler(limits: limits)
        run.scheduler.workerReady(0, pid: 1, now: run.now)
        var store: SQLiteTaskStore? = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 1000)
        for n in 10..<13 {
            try run.submit(UInt64(n))
            run.answerJobs()
        }
        let last = try run.submit(13)
        run.answerJobs()
        #expect(commitAndWait(try #require(store), run.scheduler.takeChanges()) == nil)
        let counter = "SELECT value FROM counters WHERE name = 'next_task_id'"
        #expect(try SQLiteDatabase(path: scratch.databasePath).integer(counter) == 0, "the tasks table shows it")

        // Every task is forgotten: only the counter still knows which ids were handed out.
        run.now = run.now.advanced(byNanos: 61 * nanosPerSecond)
        run.scheduler.tick(now: run.now)
        #expect(run.scheduler.task(last.id) == nil)
        #expect(commitAndWait(try #require(store), run.scheduler.takeChanges()) == nil)
        #expect(try SQLiteDatabase(path: scratch.databasePath).integer(counter) == Int64(last.id.rawValue + 1))
        store?.close(timeoutNanos: 5 * nanosPerSecond)
        store = nil

        let reopened = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 1000)
        let state = try reopened.load()
        #expect(state.tasks.isEmpty)
        #expect(state.nextTaskID == last.id.rawValue + 1, "no id is handed out twice")
        #expect(state.eventHead == state.events.last?.seq && state.eventHead > 0)
        reopened.close(timeoutNanos: 5 * nanosPerSecond)
    }

    @Test func aStoreWrittenBeforeItIsLoadedCountsTheDoneTasksOfEachResultFirst() throws {
        let scratch = ScratchDirectory()
        defer { scratch.cleanUp() }
        var limits = SchedulerLimits()
        limits.retainCount = 3
        let run = RecordingScheduler(limits: limits)
        run.scheduler.workerReady(0, pid: 1, now: run.now)
        try run.submit(700)
        run.answerJobs()
        try run.submit(700)  // cached: two done tasks share one result
        do {
            let store = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 1000)
            #expect(commitAndWait(store, run.scheduler.takeChanges()) == nil)
            store.close(timeoutNanos: 5 * nanosPerSecond)
        }
        // A new store that writes without loading: forgetting one of the two must keep the result.
        let store = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 1000)
        try run.submit(701)
        run.answerJobs()
        try run.submit(702)
        run.answerJobs()
        #expect(commitAndWait(store, run.scheduler.takeChanges()) == nil)
        #expect(store.storedResultCount() == 3, "n=700 still has a done task")
        try run.submit(703)
        run.answerJobs()
        #expect(commitAndWait(store, run.scheduler.takeChanges()) == nil)
        #expect(store.storedResultCount() == 3, "n=700's last task is gone, and its result with it")
        store.close(timeoutNanos: 5 * nanosPerSecond)
        let state = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 1000).load()
        #expect(state.tasks.map(\.n) == [701, 702, 703])
        #expect(state.tasks.allSatisfy { $0.state == .done && $0.result != nil })
    }

    @Test func commitsAfterCloseFailAndSayWhy() throws {
        let scratch = ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 10)
        store.close(timeoutNanos: 5 * nanosPerSecond)
        let run = RecordingScheduler()
        try run.submit(1)
        let error = try #require(commitAndWait(store, run.scheduler.takeChanges()))
        #expect(error.description.contains("closed"))
    }
}

@Suite("Damaged or foreign state databases")
struct DamagedDatabaseTests {
    /// Opening fails with a message that names the file and says how to start afresh.
    func expectRefusal(in scratch: ScratchDirectory, mentioning words: [String]) {
        do {
            let store = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 10)
            _ = try store.load()
            Issue.record("a damaged database was opened")
        } catch {
            let message = error.description
            #expect(message.contains(scratch.databasePath), "\(message)")
            for word in words { #expect(message.contains(word), "\(message)") }
        }
    }

    @Test func garbageIsNotADatabase() throws {
        let scratch = ScratchDirectory()
        defer { scratch.cleanUp() }
        try FileManager.default.createDirectory(atPath: scratch.path, withIntermediateDirectories: true)
        let garbage = Data((0..<8192).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) })
        try garbage.write(to: URL(fileURLWithPath: scratch.databasePath))
        expectRefusal(in: scratch, mentioning: ["not a database", "move the file aside", ".broken"])
        // Never reset: the file is as it was.
        #expect(try Data(contentsOf: URL(fileURLWithPath: scratch.databasePath)) == garbage)
    }

    @Test func aDamagedPageIsFoundAtOpen() throws {
        let scratch = ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 10_000)
        let run = RecordingScheduler()
        for n in 0..<3000 { try run.submit(UInt64(n)) }
        #expect(commitAndWait(store, run.scheduler.takeChanges()) == nil)
        store.close(timeoutNanos: 5 * nanosPerSecond)
        // Scribble over the middle of the file (past the header, inside the tables' pages).
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: scratch.databasePath))
        let size = try handle.seekToEnd()
        #expect(size > 64 * 1024)
        try handle.seek(toOffset: size / 2)
        handle.write(Data(repeating: 0xA5, count: 16 * 1024))
        try handle.close()
        expectRefusal(in: scratch, mentioning: ["damaged", "move the file aside"])
    }

    @Test func aTruncatedDatabaseIsRefused() throws {
        let scratch = ScratchDirectory()
        defer { scratch.cleanUp() }
        let store = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 10_000)
        let run = RecordingScheduler()
        for n in 0..<3000 { try run.submit(UInt64(n)) }
        #expect(commitAndWait(store, run.scheduler.takeChanges()) == nil)
        store.close(timeoutNanos: 5 * nanosPerSecond)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: scratch.databasePath))
        try handle.truncate(atOffset: 3 * 4096)
        try handle.close()
        expectRefusal(in: scratch, mentioning: ["move the file aside"])
    }

    @Test func anotherProgramsDatabaseIsRefused() throws {
        let scratch = ScratchDirectory()
        defer { scratch.cleanUp() }
        try FileManager.default.createDirectory(atPath: scratch.path, withIntermediateDirectories: true)
        let other = try SQLiteDatabase(path: scratch.databasePath)
        try other.execute("CREATE TABLE inventory (item TEXT)")
        expectRefusal(in: scratch, mentioning: ["not fibd's"])
    }

    @Test func aSecondStoreOnTheSameDirectoryIsRefused() throws {
        let scratch = ScratchDirectory()
        defer { scratch.cleanUp() }
        let first = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 10)
        _ = try first.load()
        expectRefusal(in: scratch, mentioning: ["in use by another process"])
        first.close(timeoutNanos: 5 * nanosPerSecond)
    }

    @Test func anUnwritableDirectoryIsNamed() throws {
        let scratch = ScratchDirectory()
        defer { scratch.cleanUp() }
        try FileManager.default.createDirectory(atPath: scratch.path, withIntermediateDirectories: true)
        // A file where the state directory should be.
        _ = FileManager.default.createFile(atPath: scratch.path + "/state", contents: Data("x".utf8))
        #expect {
            try SQLiteTaskStore(directory: scratch.path + "/state", eventCapacity: 10)
        } throws: { error in
            "\(error)".contains(scratch.path + "/state") && "\(error)".contains("not a directory")
        }
    }
}
