import FibCore
import FibMath
import Foundation
import Testing

@testable import FibStore

/// The layout fibd wrote as schema version 1 (before tasks had `shared`), with a few rows: what users'
/// state directories hold. Kept here verbatim, not derived from ``StoreSchema``, so that it stays version 1.
private let version1Database = """
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
    PRAGMA application_id = 1718182500;
    PRAGMA user_version = 1;
    INSERT INTO tasks VALUES
        (7, 20, 'fast', 0, 60000000000, 'done', 1, 1800000000000000000, 1800000000001000000,
            1800000000002000000, 4242, 0, NULL),
        (8, 30, 'recursive', 5, 60000000000, 'queued', 0, 1800000000003000000, NULL, NULL, NULL, 0, NULL);
    INSERT INTO results VALUES (20, 'fast', CAST('6765' AS BLOB));
    INSERT INTO events (seq, time, kind, task, n, algorithm) VALUES
        (1, 1800000000000000000, 'task.submitted', 7, 20, 'fast'),
        (2, 1800000000003000000, 'task.submitted', 8, 30, 'recursive');
    UPDATE counters SET value = 9 WHERE name = 'next_task_id';
    UPDATE counters SET value = 2 WHERE name = 'event_head';
    """

/// The layout of schema version 2: version 1's with `tasks.shared`, still with the index of done tasks by
/// computation and with both counters written in every transaction. Verbatim, like ``version1Database``.
private let version2Database = """
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
    PRAGMA application_id = 1718182500;
    PRAGMA user_version = 2;
    INSERT INTO tasks VALUES
        (3, 20, 'fast', 0, 60000000000, 'done', 1, 1800000000000000000, 1800000000001000000,
            1800000000002000000, 4242, 0, NULL, 0);
    INSERT INTO results VALUES (20, 'fast', CAST('6765' AS BLOB));
    INSERT INTO events (seq, time, kind, task, n, algorithm) VALUES
        (4, 1800000000000000000, 'task.submitted', 3, 20, 'fast');
    UPDATE counters SET value = 12 WHERE name = 'next_task_id';
    UPDATE counters SET value = 5 WHERE name = 'event_head';
    """

/// A database written at `scratch` by `sql`, closed again.
private func writeDatabase(_ sql: String, at scratch: ScratchDirectory) throws {
    try FileManager.default.createDirectory(atPath: scratch.path, withIntermediateDirectories: true)
    let database = try SQLiteDatabase(path: scratch.databasePath)
    try database.execute(sql)
}

private func userVersion(at scratch: ScratchDirectory) throws -> Int64? {
    try SQLiteDatabase(path: scratch.databasePath).integer("PRAGMA user_version")
}

@Suite("State database upgrades")
struct SchemaUpgradeTests {
    @Test func aVersion1DatabaseIsUpgradedInPlaceWithEveryTaskShared() throws {
        let scratch = ScratchDirectory()
        defer { scratch.cleanUp() }
        try writeDatabase(version1Database, at: scratch)

        var store: SQLiteTaskStore? = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 100)
        let state = try #require(try store?.load())
        #expect(state.tasks.map(\.id.rawValue) == [7, 8])
        #expect(state.tasks.allSatisfy { $0.shared }, "version 1 had no unshared tasks")
        #expect(state.tasks.first?.result == Array("6765".utf8))
        #expect(state.tasks.last?.state == .queued && state.tasks.last?.priority == 5)
        #expect(state.events.map(\.seq) == [1, 2])
        #expect(state.nextTaskID == 9 && state.eventHead == 2)

        // The upgraded file takes unshared tasks, and keeps them unshared across a reopen.
        let run = RecordingScheduler(firstTaskID: 9, restoring: state)
        let tasks = try run.scheduler.submit(
            [TaskRequest(n: 30, algorithm: .recursive, shared: false)], isBatch: false, now: run.now)
        let unshared = try #require(tasks.first)
        #expect(commitAndWait(try #require(store), run.scheduler.takeChanges()) == nil)
        store?.close(timeoutNanos: 5 * nanosPerSecond)
        store = nil
        #expect(try userVersion(at: scratch) == StoreSchema.version)

        let reopened = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 100)
        let after = try reopened.load()
        #expect(after.tasks.map(\.id.rawValue) == [7, 8, unshared.id.rawValue])
        #expect(after.tasks.map(\.shared) == [true, true, false])
        reopened.close(timeoutNanos: 5 * nanosPerSecond)
    }

    @Test func aVersion2DatabaseLosesItsIndexAndKeepsItsCounters() throws {
        let scratch = ScratchDirectory()
        defer { scratch.cleanUp() }
        try writeDatabase(version2Database, at: scratch)

        let store = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 100)
        let state = try store.load()
        #expect(state.tasks.map(\.id.rawValue) == [3])
        #expect(state.tasks.first?.shared == false && state.tasks.first?.result == Array("6765".utf8))
        // Version 2 wrote its counters in every transaction: they stand for ids and events no row shows.
        #expect(state.nextTaskID == 12 && state.eventHead == 5)
        #expect(state.events.map(\.seq) == [4] && state.events.first?.kind == .taskSubmitted)
        #expect(state.events.first?.task?.rawValue == 3 && state.events.first?.algorithm == .fast)
        #expect(state.events.first?.wallNanos == 1_800_000_000_000_000_000)
        store.close(timeoutNanos: 5 * nanosPerSecond)
        #expect(try userVersion(at: scratch) == StoreSchema.version)
        let left = try SQLiteDatabase(path: scratch.databasePath).integer(
            "SELECT count(*) FROM sqlite_schema WHERE name IN ('tasks_done_by_computation', 'events')")
        #expect(left == 0, "the index and the table of one row per event are gone")
    }

    @Test func aFailedUpgradeLeavesTheDatabaseAsItWas() throws {
        let scratch = ScratchDirectory()
        defer { scratch.cleanUp() }
        // A version-1 file that somehow has the column already: the upgrade's ALTER TABLE fails.
        try writeDatabase(version1Database + "; ALTER TABLE tasks ADD COLUMN shared INTEGER", at: scratch)
        #expect(throws: StoreError.self) {
            let store = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 10)
            _ = try store.load()
        }
        #expect(try userVersion(at: scratch) == 1, "rolled back: still version 1")
    }

    @Test func aDatabaseOfANewerFibdIsRefused() throws {
        let scratch = ScratchDirectory()
        defer { scratch.cleanUp() }
        do {
            let store = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 10)
            store.close(timeoutNanos: 5 * nanosPerSecond)
        }
        try SQLiteDatabase(path: scratch.databasePath).execute("PRAGMA user_version = \(StoreSchema.version + 1)")
        do {
            _ = try SQLiteTaskStore(directory: scratch.path, eventCapacity: 10).load()
            Issue.record("a newer fibd's database was opened")
        } catch {
            #expect(
                error.description.contains(
                    "its layout is version \(StoreSchema.version + 1) and this fibd reads version "
                        + "\(StoreSchema.version) (it was written by a newer fibd)"), "\(error)")
        }
        #expect(try userVersion(at: scratch) == StoreSchema.version + 1, "left as it was")
    }
}
