import CSystemd

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
    /// A negative errno, as libsystemd returns it.
    public let code: Int32
    public let description: String
}

/// Socket activation as sd_listen_fds(3) defines it: descriptors from SD_LISTEN_FDS_START on,
/// addressed to this process by `$LISTEN_PID`.
public enum SocketActivation {
    /// The first inherited descriptor (SD_LISTEN_FDS_START).
    public static let firstDescriptor: CInt = 3

    /// The listeners systemd passed to this process; empty when it was not socket-activated.
    ///
    /// `$LISTEN_PID`, `$LISTEN_FDS` and `$LISTEN_FDNAMES` are removed from the environment, so
    /// that nothing started later believes the sockets are meant for it, and every descriptor is
    /// marked close-on-exec. Each must be a listening stream socket (the unit has Accept=no).
    public static func inheritedListeners() throws(SocketActivationError) -> [InheritedListener] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(1, &names)
        defer {
            if let names {
                for index in 0..<Int(max(count, 0)) { free(names[index]) }
                free(names)
            }
        }
        guard count >= 0 else {
            throw SocketActivationError(
                code: count,
                description: "cannot read the inherited sockets: \(String(cString: strerror(-count)))")
        }
        var nameList: [String] = []
        if let names {
            nameList = (0..<Int(count)).map { names[$0].map { String(cString: $0) } ?? "" }
        }
        let listeners = listeners(count: Int(count), names: nameList)
        for listener in listeners where sd_is_socket(listener.descriptor, AF_UNSPEC, CInt(SOCK_STREAM.rawValue), 1) <= 0
        {
            throw SocketActivationError(
                code: -EINVAL,
                description: "inherited descriptor \(listener.descriptor) (\(listener.name)) is not a listening "
                    + "stream socket; fibd needs ListenStream= with Accept=no")
        }
        return listeners
    }

    /// Pairs the descriptors with their names; a missing or empty name is "unknown", as sd_listen_fds(3) says.
    public static func listeners(count: Int, names: [String]) -> [InheritedListener] {
        (0..<max(count, 0)).map { index in
            let name = index < names.count && !names[index].isEmpty ? names[index] : "unknown"
            return InheritedListener(descriptor: firstDescriptor + CInt(index), name: name)
        }
    }
}
