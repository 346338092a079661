#if canImport(Glibc)
    import Glibc
#endif

/// Sends ``NotifyMessage``s to the service manager: one datagram to `$NOTIFY_SOCKET`, as sd_notify(3)
/// describes the protocol (an AF_UNIX datagram socket, a path or `@` for the abstract namespace).
///
/// Outside systemd (no `$NOTIFY_SOCKET`) every send is a cheap no-op, so callers need not check.
/// The variable is kept in the environment, since the daemon notifies for its whole life; the
/// worker pool leaves it out of the workers' environment.
public struct ServiceNotifier: Sendable {
    /// `$NOTIFY_SOCKET`, nil when it is unset or empty.
    public let socketPath: String?

    /// Whether a service manager listens (`$NOTIFY_SOCKET` is set).
    public var isEnabled: Bool { socketPath != nil }

    public init(environment: [String: String]) {
        let path = environment["NOTIFY_SOCKET"] ?? ""
        socketPath = path.isEmpty ? nil : path
    }

    /// Sends the messages in one datagram.
    /// - Returns: false if there is no service manager or the datagram could not be sent.
    @discardableResult
    public func send(_ messages: NotifyMessage...) -> Bool {
        send(messages)
    }

    @discardableResult
    public func send(_ messages: [NotifyMessage]) -> Bool {
        guard let socketPath, !messages.isEmpty, let address = UnixSocketAddress(socketPath) else { return false }
        guard let descriptor = openUnixDatagramSocket() else { return false }
        defer { close(descriptor) }
        return sendDatagram(Array(NotifyMessage.datagram(messages).utf8), from: descriptor, to: address) == 0
    }
}
