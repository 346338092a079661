#if canImport(Glibc)
    import Glibc
#endif

/// One fibd per state directory: an exclusive `flock` on a lock file beside the database, held while the store
/// is open.
///
/// SQLite's own locks cannot say this once the database is shared with the checkpointer's connection (normal
/// locking mode), and a flock is released by the kernel when the process dies, however it dies, so a crash never
/// leaves the directory locked. The descriptor is close-on-exec: a worker must not inherit (and outlive fibd
/// holding) the lock.
final class StateDirectoryLock {
    /// The file name in the state directory.
    static let fileName = "fibd.lock"

    private var descriptor: Int32

    /// Why the lock could not be taken.
    enum Failure: Error {
        /// Another process holds it.
        case held
        /// The lock file could not be opened or locked: errno's text.
        case system(String)
    }

    init(directory: String) throws(Failure) {
        let path = directory.hasSuffix("/") ? directory + Self.fileName : directory + "/" + Self.fileName
        let opened = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard opened >= 0 else { throw .system("\(path): \(String(cString: strerror(errno)))") }
        var status: Int32
        repeat {
            status = flock(opened, LOCK_EX | LOCK_NB)
        } while status != 0 && errno == EINTR
        guard status == 0 else {
            let code = errno
            close(opened)
            if code == EWOULDBLOCK { throw .held }
            throw .system("\(path): \(String(cString: strerror(code)))")
        }
        descriptor = opened
    }

    /// Releases the lock (closing the file releases it); idempotent.
    func release() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }

    deinit {
        release()
    }
}
