/// The layout of fibd's SQLite database, and the checks that it is one.
enum StoreSchema {
    /// `PRAGMA application_id`: "fibd" in ASCII, so that `file` and fibd itself recognise the database.
    static let applicationID: Int64 = 0x6669_6264
    /// `PRAGMA user_version`: bumped whenever the layout changes.
    static let version: Int64 = 1

    /// Tasks by id; results apart, one copy per (n, algorithm) however many tasks share it; the newest
    /// events; and two counters that must survive even when their tables are empty.
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
            error TEXT
        );
        CREATE INDEX tasks_done_by_computation ON tasks (n, algorithm) WHERE state = 'done';
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

    /// What an opened file turned out to be.
    enum Kind {
        case empty
        case current
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
