import CSQLite
import FibCore
import FibMath

/// The statements that read and write fibd's database. Used from the store's queue only.
final class StoreWriter {
    private let database: SQLiteDatabase
    private let eventCapacity: Int
    /// Old events are deleted this many at a time, not a few at every commit: most commits then leave the first
    /// page of the events table alone (one frame fewer in the WAL). Up to this many more than `eventCapacity`
    /// are kept, and the rest of the run that holds the oldest one kept; `load` reads the newest `eventCapacity`.
    private let trimStep: UInt64
    /// Events up to this seq were deleted (0: none yet in this run).
    private var trimmedThrough: UInt64 = 0
    private let begin: SQLiteStatement
    private let commitTransaction: SQLiteStatement
    private let rollback: SQLiteStatement
    private let upsertTask: SQLiteStatement
    private let deleteTask: SQLiteStatement
    private let insertResult: SQLiteStatement
    private let deleteUnusedResult: SQLiteStatement
    private let insertEventRun: SQLiteStatement
    /// The packed events of the transaction being written, reused from one to the next.
    private var packedEvents: [UInt8] = []
    private let trimEvents: SQLiteStatement
    private let setCounter: SQLiteStatement
    /// The computations whose result is in the results table, so that a result is written once, not per task.
    private var storedResults: Set<ComputationKey> = []
    /// How many done task rows use each stored result: counted at ``load()`` (or before the first write, if that
    /// comes first) and kept up to date by every write, since a task is written done once. A result is deleted when
    /// its count reaches zero; there is no index to ask the table. Were a count ever too low, the task that still
    /// needed the result would be computed again at the next start (``load()`` queues a done task without one).
    private var doneTasksPerResult: [ComputationKey: Int] = [:]
    private var doneTasksCounted = false
    /// The largest task id in the tasks table or written to `next_task_id`: while that row exists, the table shows
    /// the next id by itself, so `next_task_id` is written only by a transaction that deletes it.
    private var newestTaskID: UInt64 = 0
    /// Frames in the WAL after the last commit, as SQLite's WAL hook reports them.
    private let walFrameCount = WALFrameCount()
    var walFrames: Int { walFrameCount.frames }
    /// Bytes of one database page (a WAL frame is one page and a 24-byte header).
    let pageSize: Int

    init(path: String, durability: StoreDurability, eventCapacity: Int) throws(StoreOpenProblem) {
        self.eventCapacity = max(1, eventCapacity)
        trimStep = UInt64(max(1, min(1024, eventCapacity / 16)))
        do {
            database = try SQLiteDatabase(path: path)
            // The only other connection is the checkpointer's, whose idle write gives up at once; this bounds the
            // wait for it in any case (a commit then fails, and is answered 503).
            database.setBusyTimeout(milliseconds: 1000)
            guard try database.text("PRAGMA journal_mode = WAL") == "wal" else {
                throw StoreOpenProblem.damaged("SQLite would not switch it to WAL mode")
            }
            // No automatic checkpoint: it would run inside a commit, fsyncs and all, and hold every answer behind
            // it. The checkpointer's connection does it on a thread of its own.
            try database.execute(
                "PRAGMA synchronous = \(durability == .power ? "FULL" : "NORMAL"); PRAGMA foreign_keys = OFF; "
                    + "PRAGMA wal_autocheckpoint = 0")
            let check = try database.text("PRAGMA quick_check") ?? "no answer"
            guard check == "ok" else { throw StoreOpenProblem.damaged("SQLite's quick_check says: \(check)") }
            switch try StoreSchema.identify(database) {
            case .empty: try database.execute("BEGIN; " + StoreSchema.create + "; COMMIT")
            case .older(let version): try StoreSchema.upgrade(database, from: version)
            case .current: break
            }
            begin = try database.prepare("BEGIN")
            commitTransaction = try database.prepare("COMMIT")
            rollback = try database.prepare("ROLLBACK")
            upsertTask = try database.prepare(
                """
                INSERT INTO tasks (id, n, algorithm, priority, timeout_ns, state, attempts, submitted_at, started_at,
                    finished_at, worker_pid, cached, error, shared)
                VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
                ON CONFLICT (id) DO UPDATE SET state = excluded.state, attempts = excluded.attempts,
                    started_at = excluded.started_at, finished_at = excluded.finished_at,
                    worker_pid = excluded.worker_pid, cached = excluded.cached, error = excluded.error
                """)
            deleteTask = try database.prepare(
                "DELETE FROM tasks WHERE id BETWEEN ?1 AND ?2 RETURNING n, algorithm, state")
            insertResult = try database.prepare(
                "INSERT OR IGNORE INTO results (n, algorithm, digits) VALUES (?1, ?2, ?3)")
            deleteUnusedResult = try database.prepare("DELETE FROM results WHERE n = ?1 AND algorithm = ?2")
            insertEventRun = try database.prepare(
                "INSERT OR REPLACE INTO event_runs (last_seq, first_seq, events) VALUES (?1, ?2, ?3)")
            trimEvents = try database.prepare("DELETE FROM event_runs WHERE last_seq <= ?1")
            setCounter = try database.prepare("UPDATE counters SET value = max(value, ?2) WHERE name = ?1")
            pageSize = Int(try database.integer("PRAGMA page_size") ?? 4096)
            let storedNext = try database.integer("SELECT value FROM counters WHERE name = 'next_task_id'") ?? 0
            let largestID = try database.integer("SELECT max(id) FROM tasks") ?? 0
            newestTaskID = max(UInt64(bitPattern: largestID), UInt64(bitPattern: max(storedNext, 1)) - 1)
        } catch let error as SQLiteError {
            throw .sqlite(error)
        } catch let problem as StoreOpenProblem {
            throw problem
        } catch {
            throw .foreign("\(error)")
        }
        database.setWALHook(context: Unmanaged.passUnretained(walFrameCount).toOpaque()) { context, _, _, frames in
            if let context { Unmanaged<WALFrameCount>.fromOpaque(context).takeUnretainedValue().frames = Int(frames) }
            return SQLITE_OK
        }
    }

    deinit {
        database.setWALHook(context: nil) { _, _, _, _ in SQLITE_OK }
    }

    // MARK: - Reading at start-up

    func load() throws(StoreOpenProblem) -> StoredState {
        do {
            var state = StoredState()
            var results: [ComputationKey: [UInt8]] = [:]
            var doneTasks: [ComputationKey: Int] = [:]
            let resultRows = try database.prepare("SELECT n, algorithm, digits FROM results")
            while try resultRows.step() {
                let key = try computationKey(resultRows, n: 0, algorithm: 1)
                results[key] = resultRows.blob(2) ?? []
            }
            storedResults = Set(results.keys)

            let taskRows = try database.prepare(
                """
                SELECT id, n, algorithm, priority, timeout_ns, state, attempts, submitted_at, started_at, finished_at,
                    worker_pid, cached, error, shared FROM tasks ORDER BY id
                """)
            while try taskRows.step() {
                let key = try computationKey(taskRows, n: 1, algorithm: 2)
                guard let stateText = taskRows.text(5), var taskState = TaskState(rawValue: stateText) else {
                    let text = taskRows.text(5) ?? "null"
                    throw StoreOpenProblem.damaged("task \(taskRows.int64(0)) has the unknown state \(text)")
                }
                var result: [UInt8]?
                if taskState == .done {
                    result = results[key]
                    // Results are deterministic: a done task whose result is missing is simply computed again.
                    if result == nil { taskState = .queued } else { doneTasks[key, default: 0] += 1 }
                }
                let task = FibTask(
                    id: TaskID(rawValue: UInt64(bitPattern: taskRows.int64(0))), n: key.n, algorithm: key.algorithm,
                    priority: Int(taskRows.int64(3)), timeoutNanos: UInt64(max(1, taskRows.int64(4))),
                    state: taskState, attempts: Int(taskRows.int64(6)), submittedAt: taskRows.int64(7),
                    startedAt: taskState == .queued ? nil : taskRows.optionalInt64(8),
                    finishedAt: taskState.isFinal ? taskRows.optionalInt64(9) : nil,
                    workerPID: taskRows.optionalInt64(10).map { Int32(truncatingIfNeeded: $0) },
                    cached: taskRows.int64(11) != 0, result: result, error: taskState.isFinal ? taskRows.text(12) : nil,
                    shared: taskRows.int64(13) != 0)
                state.tasks.append(task)
            }

            let runRows = try database.prepare("SELECT first_seq, last_seq, events FROM event_runs ORDER BY last_seq")
            while try runRows.step() {
                let first = UInt64(bitPattern: runRows.int64(0))
                let last = UInt64(bitPattern: runRows.int64(1))
                guard first <= last, last - first < UInt64(Int32.max), first > (state.events.last?.seq ?? 0) else {
                    throw StoreOpenProblem.damaged("the events \(first) to \(last) overlap others or are too many")
                }
                var run: [Event]
                do {
                    run = try PackedEvents.unpack(runRows.blob(2) ?? [], firstSeq: first, count: Int(last - first) + 1)
                } catch {
                    throw StoreOpenProblem.damaged("the events \(first) to \(last) cannot be read: \(error.reason)")
                }
                // A result is stored once, in the results table; a result no task keeps any more is gone, and the
                // event goes without it, as the feed allows.
                for index in run.indices where run[index].kind == .taskDone {
                    guard let n = run[index].n, let algorithm = run[index].algorithm else { continue }
                    run[index].result = results[ComputationKey(n: n, algorithm: algorithm)]
                }
                state.events += run
            }
            let newestSeq = state.events.last?.seq ?? 0
            if state.events.count > eventCapacity { state.events.removeFirst(state.events.count - eventCapacity) }

            let counters = try database.prepare("SELECT name, value FROM counters")
            while try counters.step() {
                let value = UInt64(bitPattern: counters.int64(1))
                switch counters.text(0) {
                case "next_task_id": state.nextTaskID = value
                case "event_head": state.eventHead = value
                default: break
                }
            }
            // The counters are written only when the tables cannot tell (see StoreSchema.create).
            state.nextTaskID = max(state.nextTaskID, (state.tasks.last?.id.rawValue).map { $0 &+ 1 } ?? 0)
            state.eventHead = max(state.eventHead, newestSeq)
            doneTasksPerResult = doneTasks
            doneTasksCounted = true
            return state
        } catch let error as SQLiteError {
            throw .sqlite(error)
        } catch let problem as StoreOpenProblem {
            throw problem
        } catch {
            throw .foreign("\(error)")
        }
    }

    private func computationKey(_ row: SQLiteStatement, n: Int32, algorithm: Int32) throws(StoreOpenProblem)
        -> ComputationKey
    {
        guard let text = row.text(algorithm), let parsed = Algorithm(rawValue: text) else {
            throw .damaged("a row names the unknown algorithm \(row.text(algorithm) ?? "null")")
        }
        return ComputationKey(n: UInt64(bitPattern: row.int64(n)), algorithm: parsed)
    }

    // MARK: - Writing

    /// Writes the change sets of one group commit in one transaction. Tasks changed in several of them are
    /// written once, as they are last; a task forgotten in the same group is not written at all.
    func write(_ batches: [StateChanges]) throws(SQLiteError) {
        var latest: [TaskID: FibTask] = [:]
        var order: [TaskID] = []
        var forgotten: [TaskID] = []
        var events: [Event] = []
        var nextTaskID: UInt64 = 0
        for changes in batches {
            for task in changes.tasks {
                if latest.updateValue(task, forKey: task.id) == nil { order.append(task.id) }
            }
            forgotten += changes.forgotten
            events += changes.events
            nextTaskID = max(nextTaskID, changes.nextTaskID)
        }
        for id in forgotten { latest[id] = nil }
        if !doneTasksCounted { try countDoneTasks() }

        try begin.run()
        var added: Set<ComputationKey> = []
        var removed: Set<ComputationKey> = []
        // Applied to doneTasksPerResult once the transaction commits.
        var doneDeltas: [ComputationKey: Int] = [:]
        var trimmedTo: UInt64?
        var newest = newestTaskID
        do {
            for id in order {
                guard let task = latest[id] else { continue }
                try write(task)
                newest = max(newest, task.id.rawValue)
                let key = ComputationKey(n: task.n, algorithm: task.algorithm)
                guard task.state == .done, let digits = task.result else { continue }
                doneDeltas[key, default: 0] += 1
                if !storedResults.contains(key), !added.contains(key) {
                    try writeResult(digits, for: key)
                    added.insert(key)
                }
            }
            try deleteTasks(forgotten) { key in
                doneDeltas[key, default: 0] -= 1
                if doneTasksPerResult[key, default: 0] + doneDeltas[key, default: 0] <= 0 { removed.insert(key) }
            }
            for key in removed {
                deleteUnusedResult.bind(1, Int64(bitPattern: key.n))
                deleteUnusedResult.bind(2, key.algorithm.rawValue)
                try deleteUnusedResult.run()
            }
            try write(events)
            if let last = events.last, last.seq > UInt64(eventCapacity) {
                let bound = last.seq - UInt64(eventCapacity)
                if trimmedThrough == 0 || bound >= trimmedThrough + trimStep {
                    trimEvents.bind(1, Int64(bitPattern: bound))
                    try trimEvents.run()
                    trimmedTo = bound
                }
            }
            // Ids the table no longer shows: the newest one written is deleted, or forgotten before it was written.
            if nextTaskID > 0, forgotten.contains(where: { $0.rawValue >= newestTaskID }) {
                try setCounter("next_task_id", nextTaskID)
                newest = max(newest, nextTaskID - 1)
            }
            try commitTransaction.run()
        } catch {
            try? rollback.run()
            throw error
        }
        newestTaskID = newest
        storedResults.formUnion(added)
        storedResults.subtract(removed)
        for (key, delta) in doneDeltas {
            let count = doneTasksPerResult[key, default: 0] + delta
            doneTasksPerResult[key] = count > 0 && storedResults.contains(key) ? count : nil
        }
        if let trimmedTo { trimmedThrough = trimmedTo }
    }

    /// Counts the done tasks of each result from the table: once, for a write that comes before ``load()``.
    private func countDoneTasks() throws(SQLiteError) {
        let rows = try database.prepare("SELECT n, algorithm, count(*) FROM tasks WHERE state = 'done' GROUP BY 1, 2")
        var counts: [ComputationKey: Int] = [:]
        while try rows.step() {
            guard let text = rows.text(1), let algorithm = Algorithm(rawValue: text) else { continue }
            counts[ComputationKey(n: UInt64(bitPattern: rows.int64(0)), algorithm: algorithm)] = Int(rows.int64(2))
        }
        doneTasksPerResult = counts
        doneTasksCounted = true
    }

    private func write(_ task: FibTask) throws(SQLiteError) {
        let statement = upsertTask
        statement.bind(1, Int64(bitPattern: task.id.rawValue))
        statement.bind(2, Int64(bitPattern: task.n))
        statement.bind(3, static: task.algorithm.storedText)
        statement.bind(4, Int64(task.priority))
        statement.bind(5, Int64(bitPattern: task.timeoutNanos))
        statement.bind(6, static: task.state.storedText)
        statement.bind(7, Int64(task.attempts))
        statement.bind(8, task.submittedAt)
        statement.bind(9, task.startedAt)
        statement.bind(10, task.finishedAt)
        statement.bind(11, task.workerPID.map { Int64($0) })
        statement.bind(12, task.cached ? 1 : 0)
        statement.bind(13, task.error)
        statement.bind(14, task.shared ? 1 : 0)
        try statement.run()
    }

    private func writeResult(_ digits: [UInt8], for key: ComputationKey) throws(SQLiteError) {
        insertResult.bind(1, Int64(bitPattern: key.n))
        insertResult.bind(2, key.algorithm.rawValue)
        try insertResult.withBlob(3, digits) { () throws(SQLiteError) in try insertResult.run() }
    }

    /// Deletes the tasks `ids`, one statement per run of consecutive ids (tasks mostly end, and are forgotten, in
    /// the order they came), and calls `done` with the computation of each that was done (its result may be unused
    /// now). A run of consecutive integers holds no other id, so the range deletes no task that is kept.
    private func deleteTasks(_ ids: [TaskID], done: (ComputationKey) -> Void) throws(SQLiteError) {
        let sorted = ids.map(\.rawValue).sorted()
        var index = sorted.startIndex
        while index < sorted.endIndex {
            var last = index
            while last + 1 < sorted.endIndex, sorted[last + 1] == sorted[last] &+ 1 { last += 1 }
            try deleteTasks(from: sorted[index], through: sorted[last], done: done)
            index = last + 1
        }
    }

    private func deleteTasks(from first: UInt64, through last: UInt64, done: (ComputationKey) -> Void)
        throws(SQLiteError)
    {
        deleteTask.bind(1, Int64(bitPattern: first))
        deleteTask.bind(2, Int64(bitPattern: last))
        defer { deleteTask.reset() }
        // RETURNING rows are all produced by the first step; stepping to the end completes the delete.
        while try deleteTask.step() {
            guard deleteTask.text(2) == TaskState.done.rawValue, let text = deleteTask.text(1),
                let algorithm = Algorithm(rawValue: text)
            else { continue }
            done(ComputationKey(n: UInt64(bitPattern: deleteTask.int64(0)), algorithm: algorithm))
        }
    }

    /// Writes `events` as one row per run of consecutive seqs: one row for all of a transaction's, unless an
    /// earlier write failed between two of its change sets and left a gap.
    private func write(_ events: [Event]) throws(SQLiteError) {
        var start = events.startIndex
        while start < events.endIndex {
            var end = start + 1
            while end < events.endIndex, events[end].seq == events[end - 1].seq &+ 1 { end += 1 }
            packedEvents.removeAll(keepingCapacity: true)
            PackedEvents.pack(events[start..<end], into: &packedEvents)
            insertEventRun.bind(1, Int64(bitPattern: events[end - 1].seq))
            insertEventRun.bind(2, Int64(bitPattern: events[start].seq))
            try insertEventRun.withBlob(3, packedEvents) { () throws(SQLiteError) in try insertEventRun.run() }
            start = end
        }
        // A transaction's blob can be large (a batch of 1,000 tasks packs 3,000 events); keep no more than a
        // typical one between transactions.
        if packedEvents.capacity > 1 << 16 { packedEvents = [] }
    }

    private func setCounter(_ name: String, _ value: UInt64) throws(SQLiteError) {
        setCounter.bind(1, name)
        setCounter.bind(2, Int64(bitPattern: value))
        try setCounter.run()
    }

    func resultCount() -> Int {
        Int((try? database.integer("SELECT count(*) FROM results")) ?? -1)
    }

    /// Moves the WAL into the database file and empties it, so a clean stop leaves one file.
    func checkpoint() {
        try? database.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    }

    /// Checkpoints the whole WAL and has the next commit start it afresh: the bound on its size when the
    /// checkpointer cannot keep up. Throws if another connection is checkpointing (then it is tried again later).
    func checkpointAll() throws(SQLiteError) {
        let (frames, done) = try database.checkpoint(SQLITE_CHECKPOINT_RESTART)
        if frames != done { throw SQLiteError(code: SQLITE_BUSY, message: "\(done) of \(frames) frames copied") }
        walFrameCount.frames = 0
    }
}

/// Where SQLite's WAL hook leaves the WAL's frame count for the writer (the hook is a C function).
final class WALFrameCount {
    var frames = 0
}
