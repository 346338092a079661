/// The layout of fibd's SQLite database, and the checks that it is one.
enum StoreSchema {
    /// `PRAGMA application_id`: "fibd" in ASCII, so that `file` and fibd itself recognise the database.
    static let applicationID: Int64 = 0x6669_6264
    /// `PRAGMA user_version`: bumped whenever the layout changes, or what its rows mean. Version 1 lacked
    /// `tasks.shared` (every task was shared). Version 2 had an index of the done tasks by computation, and
    /// wrote both counters in every transaction. ``upgrades`` brings such a database up to date at open.
    static let version: Int64 = 3

    /// Tasks by id; results apart, one copy per (n, algorithm) however many tasks share it; the newest
    /// events; and two counters for what the tables no longer show.
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
        CREATE TABLE events (
            seq INTEGER PRIMARY KEY,
            time INTEGER NOT NULL,
            kind TEXT NOT NULL,
            task INTEGER,
            n INTEGER,
            algorithm TEXT,
            worker_pid INTEGER,
            attempt INTEGER,
            duration_ns INTEGER,
            digits INTEGER,
            result BLOB,
            error TEXT,
            cached INTEGER
        );
        CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO counters (name, value) VALUES ('next_task_id', 0), ('event_head', 0);
        PRAGMA application_id = \(applicationID);
        PRAGMA user_version = \(version);
        """

    /// What changes a database of an older version (the key) into the next one; each runs in the
    /// transaction that upgrades the file, which sets `user_version` at its end.
    static let upgrades: [Int64: String] = [
        // Tasks written by version 1 were all shared, as the column's default says.
        1: "ALTER TABLE tasks ADD COLUMN shared INTEGER NOT NULL DEFAULT 1",
        // Version 2's counters were written in every transaction, so they are already right for version 3.
        2: "DROP INDEX IF EXISTS tasks_done_by_computation",
    ]

    /// What an opened file turned out to be.
    enum Kind: Equatable {
        case empty
        case current
        /// fibd's, of this older version, which ``upgrade(_:from:)`` brings up to date.
        case older(Int64)
    }

    /// Brings a database of an older version up to ``version`` in one transaction: all of it, or nothing.
    static func upgrade(_ database: SQLiteDatabase, from old: Int64) throws(SQLiteError) {
        var steps: [String] = []
        for from in old..<version {
            // identify() accepts only versions that have an upgrade.
            guard let step = upgrades[from] else { continue }
            steps.append(step)
        }
        try database.execute("BEGIN IMMEDIATE")
        do {
            try database.execute(steps.joined(separator: "; ") + "; PRAGMA user_version = \(version); COMMIT")
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
