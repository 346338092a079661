import CSQLite

/// A failure reported by SQLite: its result code and message.
struct SQLiteError: Error, CustomStringConvertible {
    var code: Int32
    var message: String

    /// The primary result code (extended codes carry more in their high bits).
    var primaryCode: Int32 { code & 0xff }

    var description: String {
        let name = String(cString: sqlite3_errstr(code))
        return message.isEmpty || message == name ? name : "\(message) (\(name))"
    }
}

/// One SQLite connection, used from one thread at a time (opened without SQLite's own mutex).
///
/// A thin layer over the C API rather than a library: fibd needs a handful of prepared statements, and
/// the libraries that wrap SQLite in Swift bring Foundation, which fibd keeps out of its binary.
final class SQLiteDatabase {
    private let handle: OpaquePointer
    let path: String

    /// Process-wide settings made once, before the first connection initializes SQLite.
    private static let configured: Void = {
        // Nobody reads sqlite3_memory_used(); counting it costs a global mutex on every allocation.
        _ = fibd_sqlite_disable_memory_status()
    }()

    init(path: String) throws(SQLiteError) {
        Self.configured
        var opened: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let status = sqlite3_open_v2(path, &opened, flags, nil)
        guard let opened else { throw SQLiteError(code: status, message: "out of memory") }
        guard status == SQLITE_OK else {
            let error = SQLiteError(code: status, message: String(cString: sqlite3_errmsg(opened)))
            sqlite3_close_v2(opened)
            throw error
        }
        self.handle = opened
        self.path = path
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    /// Runs statements that return no rows we need.
    func execute(_ sql: String) throws(SQLiteError) {
        var message: UnsafeMutablePointer<CChar>?
        let status = sqlite3_exec(handle, sql, nil, nil, &message)
        if status != SQLITE_OK {
            let text = message.map { String(cString: $0) } ?? ""
            sqlite3_free(message)
            throw SQLiteError(code: status, message: text)
        }
    }

    func prepare(_ sql: String) throws(SQLiteError) -> SQLiteStatement {
        var statement: OpaquePointer?
        let status = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard status == SQLITE_OK, let statement else { throw lastError(status) }
        return SQLiteStatement(statement: statement, database: self)
    }

    /// The first column of the first row of `sql` as text (for PRAGMAs that answer one value).
    func text(_ sql: String) throws(SQLiteError) -> String? {
        let statement = try prepare(sql)
        guard try statement.step() else { return nil }
        return statement.text(0)
    }

    /// The first column of the first row of `sql` as an integer.
    func integer(_ sql: String) throws(SQLiteError) -> Int64? {
        let statement = try prepare(sql)
        guard try statement.step() else { return nil }
        return statement.int64(0)
    }

    /// Rows changed by the last INSERT, UPDATE or DELETE.
    var changes: Int { Int(sqlite3_changes(handle)) }

    func lastError(_ status: Int32) -> SQLiteError {
        SQLiteError(code: status, message: String(cString: sqlite3_errmsg(handle)))
    }

    func setBusyTimeout(milliseconds: Int32) {
        sqlite3_busy_timeout(handle, milliseconds)
    }

    /// Calls `hook` with `context` after each commit, with the number of frames now in the WAL. Replaces SQLite's
    /// automatic checkpoint (which is itself such a hook).
    func setWALHook(
        context: UnsafeMutableRawPointer?,
        _ hook: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?, UnsafePointer<CChar>?, Int32) -> Int32
    ) {
        sqlite3_wal_hook(handle, hook, context)
    }

    /// Copies the WAL into the database as far as `mode` allows; the frames in the WAL and how many of them are
    /// in the database now. Throws SQLITE_BUSY if another connection is checkpointing.
    @discardableResult
    func checkpoint(_ mode: Int32) throws(SQLiteError) -> (walFrames: Int, checkpointed: Int) {
        var walFrames: Int32 = 0
        var checkpointed: Int32 = 0
        let status = sqlite3_wal_checkpoint_v2(handle, nil, mode, &walFrames, &checkpointed)
        guard status == SQLITE_OK else { throw lastError(status) }
        return (Int(walFrames), Int(checkpointed))
    }
}

/// A prepared statement, reset and reused for every row it writes or reads.
final class SQLiteStatement {
    private let statement: OpaquePointer
    private unowned let database: SQLiteDatabase

    init(statement: OpaquePointer, database: SQLiteDatabase) {
        self.statement = statement
        self.database = database
    }

    deinit {
        sqlite3_finalize(statement)
    }

    /// Clears the bindings and rewinds, ready for the next use.
    func reset() {
        sqlite3_reset(statement)
        sqlite3_clear_bindings(statement)
    }

    /// Advances to the next row: true if there is one, false when done.
    @discardableResult
    func step() throws(SQLiteError) -> Bool {
        let status = sqlite3_step(statement)
        switch status {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default: throw database.lastError(status)
        }
    }

    /// Runs a statement that returns no rows, then rewinds it.
    func run() throws(SQLiteError) {
        defer { reset() }
        try step()
    }

    // Parameters are numbered from 1, as in SQLite.

    func bind(_ index: Int32, _ value: Int64) {
        sqlite3_bind_int64(statement, index, value)
    }

    func bind(_ index: Int32, _ value: Int64?) {
        if let value { sqlite3_bind_int64(statement, index, value) } else { sqlite3_bind_null(statement, index) }
    }

    func bind(_ index: Int32, _ value: String?) {
        guard let value else {
            sqlite3_bind_null(statement, index)
            return
        }
        sqlite3_bind_text(statement, index, value, -1, fibd_sqlite_transient())
    }

    /// Binds text that lives as long as the program (an enum's raw value), so SQLite need not copy it.
    func bind(_ index: Int32, static text: StaticString) {
        guard text.hasPointerRepresentation else {
            bind(index, text.description)
            return
        }
        // A nil destructor is SQLITE_STATIC: the bytes outlive the statement.
        sqlite3_bind_text(statement, index, text.utf8Start, Int32(text.utf8CodeUnitCount), nil)
    }

    /// Binds bytes without copying them: valid only until the statement is stepped inside `body`.
    func withBlob<Result>(
        _ index: Int32, _ bytes: [UInt8], _ body: () throws(SQLiteError) -> Result
    ) throws(SQLiteError) -> Result {
        let outcome: Swift.Result<Result, SQLiteError> = bytes.withUnsafeBytes { buffer in
            if let base = buffer.baseAddress, !buffer.isEmpty {
                sqlite3_bind_blob64(statement, index, base, sqlite3_uint64(buffer.count), nil)
            } else {
                sqlite3_bind_zeroblob(statement, index, 0)
            }
            defer { sqlite3_bind_null(statement, index) }
            do throws(SQLiteError) {
                return .success(try body())
            } catch {
                return .failure(error)
            }
        }
        return try outcome.get()
    }

    func isNull(_ column: Int32) -> Bool { sqlite3_column_type(statement, column) == SQLITE_NULL }

    func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }

    func optionalInt64(_ column: Int32) -> Int64? { isNull(column) ? nil : int64(column) }

    func text(_ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(statement, column) else { return nil }
        return String(cString: pointer)
    }

    func blob(_ column: Int32) -> [UInt8]? {
        guard !isNull(column) else { return nil }
        // In this order, as SQLite asks: the pointer first, then the size of what it points to.
        let pointer = sqlite3_column_blob(statement, column)
        let count = Int(sqlite3_column_bytes(statement, column))
        guard count > 0, let pointer else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: pointer, count: count))
    }
}
