import CSQLite
import FibCore
import FibMath

/// The layout of fibd's SQLite database, and the checks that it is one.
enum StoreSchema {
    /// `PRAGMA application_id`: "fibd" in ASCII, so that `file` and fibd itself recognise the database.
    static let applicationID: Int64 = 0x6669_6264
    /// `PRAGMA user_version`: bumped whenever the layout changes, or what its rows mean. Version 1 lacked
    /// `tasks.shared` (every task was shared). Version 2 kept one row per event, had an index of the done tasks
    /// by computation, and wrote both counters in every transaction. ``upgrades`` brings such a database up to
    /// date at open.
    static let version: Int64 = 3

    /// Tasks by id; results apart, one copy per (n, algorithm) however many tasks share it; the newest
    /// events, one row per run of consecutive seqs (a transaction's, see ``PackedEvents``); and two counters for
    /// what the tables no longer show.
    ///
    /// No secondary index: each one is another page in every transaction's WAL frames. The writer counts the
    /// done tasks of each result itself, so it needs no index to tell when a result is no longer used.
    /// The counters are written only when the tables cannot tell: `next_task_id` when the newest task ever
    /// written is deleted (otherwise the largest id in `tasks` says as much), and `event_head` not at all from
    /// version 3 on (the newest event is never trimmed, so the largest seq in `events` is the head). A reader
    /// takes the larger of each counter and what its table shows.
    static let create = """
        CREATE TABLE tasks (
            id INTEGER PRIMARY KEY,
            n INTEGER NOT NULL,
            algorithm TEXT NOT NULL,
            priority INTEGER NOT NULL,
            timeout_ns INTEGER NOT NULL,
            state TEXT NOT NULL,
            attempts INTEGER NOT NULL,
            submitted_at INTEGER NOT NULL,
            started_at INTEGER,
            finished_at INTEGER,
            worker_pid INTEGER,
            cached INTEGER NOT NULL,
            error TEXT,
            shared INTEGER NOT NULL DEFAULT 1
        );
        CREATE TABLE results (
            n INTEGER NOT NULL,
            algorithm TEXT NOT NULL,
            digits BLOB NOT NULL,
            PRIMARY KEY (n, algorithm)
        );
        CREATE TABLE event_runs (
            last_seq INTEGER PRIMARY KEY,
            first_seq INTEGER NOT NULL,
            events BLOB NOT NULL
        );
        CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO counters (name, value) VALUES ('next_task_id', 0), ('event_head', 0);
        PRAGMA application_id = \(applicationID);
        PRAGMA user_version = \(version);
        """

    /// What changes a database of an older version (the key) into the next one; each runs in the
    /// transaction that upgrades the file, which sets `user_version` at its end.
    static let upgrades: [Int64: @Sendable (SQLiteDatabase) throws(SQLiteError) -> Void] = [
        // Tasks written by version 1 were all shared, as the column's default says.
        1: { database throws(SQLiteError) in
            try database.execute("ALTER TABLE tasks ADD COLUMN shared INTEGER NOT NULL DEFAULT 1")
        },
        // Version 2's counters were written in every transaction, so they are already right for version 3.
        2: { database throws(SQLiteError) in
            try database.execute(
                """
                DROP INDEX IF EXISTS tasks_done_by_computation;
                CREATE TABLE event_runs (
                    last_seq INTEGER PRIMARY KEY,
                    first_seq INTEGER NOT NULL,
                    events BLOB NOT NULL
                )
                """)
            try packEventRows(database)
            try database.execute("DROP TABLE events")
        },
    ]

    /// Events in runs of at most this many per row when older rows are packed.
    static let upgradeRunLength = 4096

    /// Moves version 2's event rows (one per event) into runs of consecutive seqs. Results that old rows carried
    /// are left out, as version 3 writes them: a done event takes its result from the results table at load.
    private static func packEventRows(_ database: SQLiteDatabase) throws(SQLiteError) {
        let rows = try database.prepare(
            """
            SELECT seq, time, kind, task, n, algorithm, worker_pid, attempt, duration_ns, digits, error, cached
            FROM events ORDER BY seq
            """)
        let insert = try database.prepare("INSERT INTO event_runs (last_seq, first_seq, events) VALUES (?1, ?2, ?3)")
        var run: [Event] = []
        func flush() throws(SQLiteError) {
            guard let first = run.first, let last = run.last else { return }
            var bytes: [UInt8] = []
            PackedEvents.pack(run[...], into: &bytes)
            insert.bind(1, Int64(bitPattern: last.seq))
            insert.bind(2, Int64(bitPattern: first.seq))
            try insert.withBlob(3, bytes) { () throws(SQLiteError) in try insert.run() }
            run.removeAll(keepingCapacity: true)
        }
        while try rows.step() {
            let seq = UInt64(bitPattern: rows.int64(0))
            guard let text = rows.text(2), let kind = EventKind(rawValue: text) else {
                let text = rows.text(2) ?? "null"
                throw SQLiteError(code: SQLITE_CORRUPT, message: "event \(seq) has the unknown kind \(text)")
            }
            var event = Event(kind: kind, wallNanos: rows.int64(1))
            event.seq = seq
            event.task = rows.optionalInt64(3).map { TaskID(rawValue: UInt64(bitPattern: $0)) }
            event.n = rows.optionalInt64(4).map { UInt64(bitPattern: $0) }
            event.algorithm = rows.text(5).flatMap(Algorithm.init(rawValue:))
            event.workerPID = rows.optionalInt64(6).map { Int32(truncatingIfNeeded: $0) }
            event.attempt = rows.optionalInt64(7).map { Int($0) }
            event.durationNanos = rows.optionalInt64(8).map { UInt64(bitPattern: $0) }
            event.digits = rows.optionalInt64(9).map { Int($0) }
            event.error = rows.text(10)
            event.cached = rows.optionalInt64(11).map { $0 != 0 }
            if let last = run.last, last.seq &+ 1 != seq || run.count == upgradeRunLength { try flush() }
            run.append(event)
        }
        try flush()
    }

    /// What an opened file turned out to be.
    enum Kind: Equatable {
        case empty
        case current
        /// fibd's, of this older version, which ``upgrade(_:from:)`` brings up to date.
        case older(Int64)
    }

    /// Brings a database of an older version up to ``version`` in one transaction: all of it, or nothing.
    static func upgrade(_ database: SQLiteDatabase, from old: Int64) throws(SQLiteError) {
        try database.execute("BEGIN IMMEDIATE")
        do {
            for from in old..<version {
                // identify() accepts only versions that have an upgrade.
                try upgrades[from]?(database)
            }
            try database.execute("PRAGMA user_version = \(version); COMMIT")
        } catch {
            try? database.execute("ROLLBACK")
            throw error
        }
    }

    /// Checks that `database` is fibd's (or empty) and of a layout this fibd reads.
    static func identify(_ database: SQLiteDatabase) throws(StoreOpenProblem) -> Kind {
        do {
            let application = try database.integer("PRAGMA application_id") ?? 0
            let version = try database.integer("PRAGMA user_version") ?? 0
            let tables = try database.integer("SELECT count(*) FROM sqlite_schema") ?? 0
            if application == 0, version == 0, tables == 0 { return .empty }
            guard application == applicationID else {
                throw StoreOpenProblem.foreign("it is an SQLite database, but not one of fibd's")
            }
            if version < Self.version, (version..<Self.version).allSatisfy({ upgrades[$0] != nil }) {
                return .older(version)
            }
            guard version == Self.version else {
                throw StoreOpenProblem.foreign(
                    "its layout is version \(version) and this fibd reads version \(Self.version)"
                        + (version > Self.version ? " (it was written by a newer fibd)" : ""))
            }
            return .current
        } catch let problem as StoreOpenProblem {
            throw problem
        } catch let error as SQLiteError {
            throw StoreOpenProblem.sqlite(error)
        } catch {
            throw StoreOpenProblem.foreign("\(error)")
        }
    }
}

/// Why the database could not be used at start-up; ``SQLiteTaskStore`` turns it into a message.
enum StoreOpenProblem: Error {
    case sqlite(SQLiteError)
    case foreign(String)
    case damaged(String)
}
