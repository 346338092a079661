#if canImport(Glibc)
    import Glibc
#endif

/// A listening socket the service manager passed in (socket activation), with its
/// FileDescriptorName= (or "unknown" when the unit gave none).
public struct InheritedListener: Sendable, Equatable {
    public var descriptor: CInt
    public var name: String

    public init(descriptor: CInt, name: String) {
        self.descriptor = descriptor
        self.name = name
    }
}

/// Why the inherited descriptors cannot be used.
public struct SocketActivationError: Error, Sendable, CustomStringConvertible {
    /// A negative errno, as sd_listen_fds(3) returns it.
    public let code: Int32
    public let description: String

    public init(code: Int32, description: String) {
        self.code = code
        self.description = description
    }
}

/// Socket activation as sd_listen_fds(3) defines it: descriptors from SD_LISTEN_FDS_START on,
/// addressed to this process by `$LISTEN_PID`, counted by `$LISTEN_FDS` and named by `$LISTEN_FDNAMES`.
public enum SocketActivation {
    /// The first inherited descriptor (SD_LISTEN_FDS_START).
    public static let firstDescriptor: CInt = 3

    /// The listeners systemd passed to this process; empty when it was not socket-activated.
    ///
    /// `$LISTEN_PID`, `$LISTEN_FDS` and `$LISTEN_FDNAMES` are removed from the environment, so
    /// that nothing started later believes the sockets are meant for it, and every descriptor is
    /// marked close-on-exec. Each must be a listening stream socket (the unit has Accept=no).
    public static func inheritedListeners() throws(SocketActivationError) -> [InheritedListener] {
        let variables = ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"]
        var environment: [String: String] = [:]
        for name in variables {
            if let value = getenv(name) { environment[name] = String(cString: value) }
        }
        // Removed whatever they hold, even when they are addressed to another process or malformed.
        for name in variables { unsetenv(name) }
        let listeners = try listeners(environment: environment, processID: getpid())
        for listener in listeners {
            guard fcntl(listener.descriptor, F_SETFD, FD_CLOEXEC) == 0 else {
                let code = errno
                throw SocketActivationError(
                    code: -code,
                    description: "inherited descriptor \(listener.descriptor) (\(listener.name)): "
                        + String(cString: strerror(code)))
            }
            guard isListeningStreamSocket(listener.descriptor) else {
                throw SocketActivationError(
                    code: -EINVAL,
                    description: "inherited descriptor \(listener.descriptor) (\(listener.name)) is not a listening "
                        + "stream socket; fibd needs ListenStream= with Accept=no")
            }
        }
        return listeners
    }

    /// The listeners the variables describe for process `processID`: none when `LISTEN_PID` is unset or names
    /// another process; an error when a variable is malformed or `LISTEN_FDNAMES` does not name every one.
    public static func listeners(
        environment: [String: String], processID: pid_t
    ) throws(SocketActivationError) -> [InheritedListener] {
        guard let pidText = environment["LISTEN_PID"] else { return [] }
        guard let pid = pid_t(pidText), pid > 0 else {
            throw SocketActivationError(code: -EINVAL, description: "LISTEN_PID=\(pidText) is not a process id")
        }
        guard pid == processID, let countText = environment["LISTEN_FDS"] else { return [] }
        guard let count = Int(countText), count >= 0, count <= Int(CInt.max - firstDescriptor) else {
            throw SocketActivationError(code: -EINVAL, description: "LISTEN_FDS=\(countText) is not a count")
        }
        var names: [String] = []
        if let nameList = environment["LISTEN_FDNAMES"] {
            names = nameList.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard names.count == count else {
                throw SocketActivationError(
                    code: -EINVAL,
                    description: "LISTEN_FDNAMES names \(names.count) sockets, LISTEN_FDS counts \(count)")
            }
        }
        return listeners(count: count, names: names)
    }

    /// Pairs the descriptors with their names; a missing or empty name is "unknown", as sd_listen_fds(3) says.
    public static func listeners(count: Int, names: [String]) -> [InheritedListener] {
        (0..<max(count, 0)).map { index in
            let name = index < names.count && !names[index].isEmpty ? names[index] : "unknown"
            return InheritedListener(descriptor: firstDescriptor + CInt(index), name: name)
        }
    }

    /// Whether `descriptor` is a stream socket that listens, as sd_is_socket(3) checks it.
    public static func isListeningStreamSocket(_ descriptor: CInt) -> Bool {
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_mode & S_IFMT == S_IFSOCK else { return false }
        return socketOption(descriptor, SO_TYPE) == CInt(SOCK_STREAM.rawValue)
            && socketOption(descriptor, SO_ACCEPTCONN) == 1
    }

    private static func socketOption(_ descriptor: CInt, _ option: CInt) -> CInt? {
        var value: CInt = 0
        var length = socklen_t(MemoryLayout<CInt>.size)
        guard getsockopt(descriptor, SOL_SOCKET, option, &value, &length) == 0,
            length == socklen_t(MemoryLayout<CInt>.size)
        else { return nil }
        return value
    }
}
