import CSQLite
import Dispatch
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
/// Writes are group commits on a thread of their own: change sets handed over while a transaction is being
/// written wait and go together into the next one, so the event loops never wait on disk and the write path
/// keeps up with any submit rate (the busier it is, the bigger each transaction). The database is held in
/// exclusive locking mode: a second fibd on the same directory fails at start instead of sharing it.
public final class SQLiteTaskStore: TaskStore, @unchecked Sendable {
    /// The file name in the state directory.
    public static let fileName = "fibd.db"

    /// The database file.
    public let path: String

    private struct Pending {
        var commits: [(changes: StateChanges, completion: @Sendable (StoreError?) -> Void)] = []
        var draining = false
        var closed = false
    }

    /// Confined to `queue` once `init` returns; nil once closed (which closes the file and frees its lock).
    private var writer: StoreWriter?
    private let queue = DispatchQueue(label: "fibd.store", qos: .userInitiated)
    private let pending = Mutex(Pending())
    /// Transactions written so far (each holds one or more change sets): shows the grouping.
    public var transactionCount: Int { transactions.load(ordering: .relaxed) }
    private let transactions = Atomic(0)

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
            writer = try StoreWriter(path: path, durability: durability, eventCapacity: eventCapacity)
        } catch {
            throw Self.explain(error, path: path)
        }
    }

    public func load() throws(StoreError) -> StoredState {
        let result: Result<StoredState, StoreOpenProblem> = queue.sync {
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

    public func commit(_ changes: StateChanges, completion: @escaping @Sendable (StoreError?) -> Void) {
        let (accepted, startDrain) = pending.withLock { pending -> (Bool, Bool) in
            guard !pending.closed else { return (false, false) }
            pending.commits.append((changes, completion))
            guard !pending.draining else { return (true, false) }
            pending.draining = true
            return (true, true)
        }
        guard accepted else {
            completion(StoreError("the state database \(path) is closed"))
            return
        }
        if startDrain { queue.async { self.drain() } }
    }

    public var pendingCommits: Int { pending.withLock { $0.commits.count } }

    public func close(timeoutNanos: UInt64) {
        pending.withLock { $0.closed = true }
        let finished = DispatchSemaphore(value: 0)
        // Runs after any drain already queued: everything accepted is written by then.
        queue.async {
            self.writer?.checkpoint()
            self.writer = nil
            finished.signal()
        }
        _ = finished.wait(timeout: .now() + .nanoseconds(Int(min(timeoutNanos, UInt64(Int.max)))))
    }

    /// Rows in the results table (for tests of result sharing).
    func storedResultCount() -> Int {
        queue.sync { writer?.resultCount() ?? -1 }
    }

    /// Writes everything pending, one transaction per round, until nothing is left.
    private func drain() {
        while true {
            let commits = pending.withLock { pending in
                let taken = pending.commits
                pending.commits.removeAll(keepingCapacity: true)
                if taken.isEmpty { pending.draining = false }
                return taken
            }
            guard !commits.isEmpty else { return }
            var failure: StoreError?
            do {
                guard let writer else { throw StoreError("the state database \(path) is closed") }
                try writer.write(commits.map(\.changes))
                transactions.add(1, ordering: .relaxed)
            } catch {
                failure = StoreError("cannot write to the state database \(path): \(error)")
            }
            for commit in commits { commit.completion(failure) }
        }
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
