import CSystemd

/// Sends ``NotifyMessage``s to the service manager with sd_notify(3).
///
/// Outside systemd (no `$NOTIFY_SOCKET`) every send is a cheap no-op, so callers need not check.
/// The variable is kept in the environment, since the daemon notifies for its whole life; the
/// worker pool leaves it out of the workers' environment.
public struct ServiceNotifier: Sendable {
    /// Whether a service manager listens (`$NOTIFY_SOCKET` is set).
    public let isEnabled: Bool

    public init(environment: [String: String]) {
        isEnabled = !(environment["NOTIFY_SOCKET"] ?? "").isEmpty
    }

    /// Sends the messages in one datagram.
    /// - Returns: false if there is no service manager or the datagram could not be sent.
    @discardableResult
    public func send(_ messages: NotifyMessage...) -> Bool {
        send(messages)
    }

    @discardableResult
    public func send(_ messages: [NotifyMessage]) -> Bool {
        guard isEnabled, !messages.isEmpty else { return false }
        return sd_notify(0, NotifyMessage.datagram(messages)) > 0
    }
}
