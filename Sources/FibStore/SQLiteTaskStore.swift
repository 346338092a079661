import CSQLite
import FibCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// How far a commit is made durable before it counts as written.
public enum StoreDurability: String, Sendable {
    /// The commit is in the operating system's hands (WAL with `synchronous=NORMAL`): it survives the death of
    /// fibd and of its whole cgroup, not a power cut or a kernel crash. No fsync per commit.
    case process
    /// The commit is on the disk (`synchronous=FULL`: the WAL is fsynced at each commit): it survives a power
    /// cut too. Each group commit costs an fsync, milliseconds on most disks.
    case power
}

/// fibd's durable state in one SQLite database in the state directory, in WAL mode.
///
/// A commit is written on the caller's thread before ``commit(_:completion:)`` returns (the completion runs
/// there too): with `synchronous=NORMAL` a commit is an append to the WAL, tens of microseconds, no fsync, so
/// the runtime writes on its own event loop, once per turn of it, and answers in the same turn without a hop to
/// another thread. Group commit is the runtime's doing: one commit holds whatever its commands changed since the
/// last one. Checkpoints, which fsync, run on a connection and a thread of their own (``WALCheckpointer``); the
/// writer checkpoints itself only if the WAL grows past ``walCapBytes`` regardless.
///
/// One fibd per state directory: a flock on `fibd.lock` beside the database (see ``StateDirectoryLock``).
public final class SQLiteTaskStore: TaskStore, @unchecked Sendable {
    /// The file name in the state directory.
    public static let fileName = "fibd.db"
    /// The WAL written since the last checkpoint past which the checkpointer runs the next. Small, so that the
    /// WAL's dirty pages are synced a little at a time: a checkpoint's fsync of the WAL writes back everything
    /// appended since the last, and the commits that overlap that writeback are the slow ones (F(1) round trips
    /// under wrk -c1, p99: 16 MB 0.8-1.3 ms, 4 MB 420-550 µs, 1 MB 370-410 µs, for the same CPU per request).
    /// Under a steady load no checkpoint ever catches up with the writer (it appends meanwhile), the WAL grows to
    /// ``walCapBytes``, and the writer's own checkpoint there then syncs only what came since the checkpointer's
    /// last round.
    public static let walCheckpointBytes = 1 << 20
    /// The WAL size past which the writer checkpoints itself, waiting for it: the bound on the file.
    public static let walCapBytes = 64 << 20

    /// The database file.
    public let path: String

    /// Guards `writer` and `closed`: commits come from the runtime's loop, `load` and `close` from elsewhere.
    private let lock = Mutex(())
    /// Nil once closed (which closes the file).
    private var writer: StoreWriter?
    private let checkpointer: WALCheckpointer
    private let directoryLock: StateDirectoryLock
    private let capFrames: Int
    /// Transactions written so far.
    public var transactionCount: Int { transactions.load(ordering: .relaxed) }
    private let transactions = Atomic(0)
    /// Checkpoints the checkpointer ran, and those the writer had to run itself at the cap.
    var checkpointerRuns: Int { checkpointer.checkpointCount }
    private(set) var writerCheckpoints = 0

    /// Opens (or creates) the database in `directory`, creating the directory if needed, and checks it.
    ///
    /// - Parameter eventCapacity: events kept for cursors from before a restart (the event log's size).
    /// - Throws: a ``StoreError`` that names the file and the way out; fibd never resets a database itself.
    public init(directory: String, durability: StoreDurability = .process, eventCapacity: Int) throws(StoreError) {
        let path = directory.hasSuffix("/") ? directory + Self.fileName : directory + "/" + Self.fileName
        self.path = path
        if let problem = makeDirectories(directory) {
            throw StoreError("cannot create the state directory \(directory): \(problem)")
        }
        do {
            directoryLock = try StateDirectoryLock(directory: directory)
        } catch {
            switch error {
            case .held:
                throw StoreError(
                    "the state database \(path) is in use by another process (another fibd with the same state "
                        + "directory?): \(directory)/\(StateDirectoryLock.fileName) is locked")
            case .system(let problem):
                throw StoreError("cannot lock the state directory \(directory): \(problem)")
            }
        }
        let writer: StoreWriter
        do {
            writer = try StoreWriter(path: path, durability: durability, eventCapacity: eventCapacity)
        } catch {
            throw Self.explain(error, path: path)
        }
        let frameBytes = writer.pageSize + 24
        capFrames = Self.walCapBytes / frameBytes
        do {
            checkpointer = try WALCheckpointer(
                path: path, thresholdFrames: Self.walCheckpointBytes / frameBytes, capFrames: capFrames)
        } catch {
            throw Self.explain(.sqlite(error), path: path)
        }
        self.writer = writer
    }

    deinit {
        checkpointer.stop(timeoutNanos: nanosPerSecond)
    }

    public func load() throws(StoreError) -> StoredState {
        let result: Result<StoredState, StoreOpenProblem> = lock.withLock { _ in
            do throws(StoreOpenProblem) {
                guard let writer else { throw StoreOpenProblem.foreign("the store is closed") }
                return .success(try writer.load())
            } catch {
                return .failure(error)
            }
        }
        do {
            return try result.get()
        } catch {
            throw Self.explain(error, path: path)
        }
    }

    /// Writes `changes` in one transaction now, on the caller's thread, then calls `completion` before returning.
    public func commit(_ changes: StateChanges, completion: @escaping @Sendable (StoreError?) -> Void) {
        completion(write(changes))
    }

    /// Writes `changes` in one transaction; nil, or why they were not written.
    public func write(_ changes: StateChanges) -> StoreError? {
        let (failure, frames) = lock.withLock { _ -> (StoreError?, Int) in
            guard let writer else { return (StoreError("the state database \(path) is closed"), 0) }
            do {
                try writer.write([changes])
            } catch {
                return (StoreError("cannot write to the state database \(path): \(error)"), writer.walFrames)
            }
            transactions.add(1, ordering: .relaxed)
            if writer.walFrames >= capFrames {
                // The checkpointer fell behind: bound the file, at the cost of this one commit's time.
                if (try? writer.checkpointAll()) != nil { writerCheckpoints += 1 }
            }
            return (nil, writer.walFrames)
        }
        if failure == nil { checkpointer.committed(walFrames: frames) }
        return failure
    }

    /// Nothing waits: every commit is written before ``commit(_:completion:)`` returns.
    public var pendingCommits: Int { 0 }

    public func close(timeoutNanos: UInt64) {
        let closing = lock.withLock { _ -> Bool in
            guard let open = self.writer else { return false }
            self.writer = nil
            checkpointer.stop(timeoutNanos: timeoutNanos)
            // Empties the WAL into the database, so a clean stop leaves one file.
            open.checkpoint()
            return true
        }
        if closing { directoryLock.release() }
    }

    /// Rows in the results table (for tests of result sharing).
    func storedResultCount() -> Int {
        lock.withLock { _ in writer?.resultCount() ?? -1 }
    }

    /// A problem at start-up as a message that names the file and says what to do.
    private static func explain(_ problem: StoreOpenProblem, path: String) -> StoreError {
        let wayOut =
            "fibd does not start on a database it cannot read, and never resets one itself. To start with an "
            + "empty state, stop fibd and move the file aside with its -wal file, e.g. `mv \(path) \(path).broken; "
            + "mv \(path)-wal \(path).broken-wal` (the tasks in it may be saved with `sqlite3 \(path).broken "
            + ".recover`); see fibd(8), FILES."
        switch problem {
        case .sqlite(let error):
            switch error.primaryCode {
            case SQLITE_BUSY, SQLITE_LOCKED:
                return StoreError(
                    "the state database \(path) is in use by another process (another fibd with the same state "
                        + "directory?): \(error)")
            case SQLITE_CANTOPEN, SQLITE_PERM, SQLITE_READONLY, SQLITE_AUTH:
                return StoreError(
                    "cannot open the state database \(path): \(error); check that the state directory exists and "
                        + "that fibd's user may read and write it and the file")
            case SQLITE_CORRUPT, SQLITE_NOTADB, SQLITE_FORMAT:
                return StoreError("the state database \(path) is damaged or not a database: \(error). " + wayOut)
            default:
                return StoreError("cannot read the state database \(path): \(error). " + wayOut)
            }
        case .foreign(let what):
            return StoreError("\(path) is not fibd's state database: \(what). " + wayOut)
        case .damaged(let what):
            return StoreError("the state database \(path) is damaged: \(what). " + wayOut)
        }
    }
}

/// Creates `path` and its missing parents (mode 0700: results are the users' data); nil, or what went wrong.
func makeDirectories(_ path: String) -> String? {
    var stats = stat()
    if stat(path, &stats) == 0 {
        return (stats.st_mode & S_IFMT) == S_IFDIR ? nil : "it exists and is not a directory"
    }
    var prefix = path.hasPrefix("/") ? "/" : ""
    for component in path.split(separator: "/") {
        prefix += component
        if mkdir(prefix, 0o700) != 0, errno != EEXIST {
            return String(cString: strerror(errno))
        }
        prefix += "/"
    }
    return nil
}
