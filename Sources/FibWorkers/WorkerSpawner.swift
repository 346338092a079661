#if canImport(Glibc)
    import Glibc
#endif

/// Why a worker process could not be started.
public struct WorkerSpawnError: Error, Sendable, CustomStringConvertible {
    public var call: String
    public var errno: CInt

    public var description: String {
        "cannot start a worker: \(call): \(errnoDescription(errno))"
    }
}

/// A started worker: its pid and the parent's end of its socketpair (close-on-exec).
struct SpawnedWorker {
    var pid: pid_t
    var descriptor: CInt
}

/// Starts `fibd worker` processes with posix_spawn.
///
/// The child gets its end of a socketpair as fd 3 and no other descriptor beyond 0-2, a signal
/// mask and dispositions reset to the defaults (NIO ignores SIGPIPE in the daemon), and the
/// daemon's environment without the variables systemd meant for the daemon alone.
struct WorkerSpawner {
    let executable: String
    let arguments: [String]
    let environment: [String]

    init(executable: String, parentEnvironment: [String]) {
        self.executable = executable
        // argv[0] names the real binary, so that `ps` shows "/usr/bin/fibd worker".
        let displayName = executable == "/proc/self/exe" ? (Self.resolvedLink(executable) ?? executable) : executable
        self.arguments = [displayName, "worker"]
        self.environment =
            Self.workerEnvironment(from: parentEnvironment) + ["\(WorkerMain.parentPIDVariable)=\(getpid())"]
    }

    /// The parent's environment minus what systemd addressed to the daemon's own pid (sd_notify,
    /// socket activation, watchdog): a worker must never answer for the daemon.
    static func workerEnvironment(from parent: [String]) -> [String] {
        let dropped: Set<Substring> = ["NOTIFY_SOCKET", WorkerMain.parentPIDVariable[...]]
        return parent.filter { entry in
            let name = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)[0]
            return !dropped.contains(name) && !name.hasPrefix("LISTEN_") && !name.hasPrefix("WATCHDOG_")
        }
    }

    /// This process's environment, as `NAME=value` strings.
    static func currentEnvironment() -> [String] {
        var entries: [String] = []
        var cursor = environ
        while let entry = cursor.pointee {
            entries.append(String(cString: entry))
            cursor += 1
        }
        return entries
    }

    func spawn() throws(WorkerSpawnError) -> SpawnedWorker {
        var pair: [CInt] = [-1, -1]
        let socketType = CInt(SOCK_STREAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue)
        guard socketpair(AF_UNIX, socketType, 0, &pair) == 0 else {
            throw WorkerSpawnError(call: "socketpair", errno: errno)
        }
        var (parentEnd, childEnd) = (pair[0], pair[1])
        if childEnd == WorkerMain.channelDescriptor {
            // dup2(3, 3) would keep close-on-exec set: move the child's end out of the way first.
            let moved = fcntl(childEnd, F_DUPFD_CLOEXEC, WorkerMain.channelDescriptor + 1)
            close(childEnd)
            guard moved >= 0 else {
                let code = errno
                close(parentEnd)
                throw WorkerSpawnError(call: "fcntl(F_DUPFD_CLOEXEC)", errno: code)
            }
            childEnd = moved
        }
        defer { close(childEnd) }
        do {
            let pid = try spawnProcess(childEnd: childEnd)
            return SpawnedWorker(pid: pid, descriptor: parentEnd)
        } catch {
            close(parentEnd)
            throw error
        }
    }

    private func spawnProcess(childEnd: CInt) throws(WorkerSpawnError) -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var status = posix_spawn_file_actions_adddup2(&actions, childEnd, WorkerMain.channelDescriptor)
        guard status == 0 else { throw WorkerSpawnError(call: "posix_spawn_file_actions_adddup2", errno: status) }
        status = LinuxCalls.addCloseFrom(&actions, lowest: WorkerMain.channelDescriptor + 1)
        guard status == 0 else {
            throw WorkerSpawnError(call: "posix_spawn_file_actions_addclosefrom_np", errno: status)
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        status = posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        guard status == 0 else { throw WorkerSpawnError(call: "posix_spawnattr_setflags", errno: status) }

        var pid: pid_t = 0
        status = withCStringArray(arguments) { argv in
            withCStringArray(environment) { envp in
                posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
            }
        }
        guard status == 0 else { throw WorkerSpawnError(call: "posix_spawn(\(executable))", errno: status) }
        return pid
    }

    private static func resolvedLink(_ path: String) -> String? {
        var buffer = [UInt8](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = buffer.withUnsafeMutableBytes { bytes -> Int in
            guard let base = bytes.baseAddress else { return -1 }
            return readlink(path, base.assumingMemoryBound(to: CChar.self), bytes.count - 1)
        }
        guard length > 0 else { return nil }
        return String(decoding: buffer[0..<length], as: UTF8.self)
    }
}

/// Calls `body` with a NULL-terminated array of C strings, freed afterwards.
private func withCStringArray<R>(
    _ strings: [String],
    _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R
) -> R {
    let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
    defer {
        for pointer in pointers { free(pointer) }
    }
    return pointers.withUnsafeBufferPointer { buffer in
        // A non-empty array always has a base address.
        guard let base = buffer.baseAddress else { preconditionFailure("empty argument array") }
        return body(base)
    }
}
