#if canImport(Glibc)
    import Glibc
#endif

/// One thing the daemon tells its service manager over `$NOTIFY_SOCKET` (sd_notify(3)).
public enum NotifyMessage: Sendable, Equatable {
    /// Start-up (or a reload) is complete: the listeners are open and every worker has answered.
    case ready
    /// A reload began at `monotonicMicroseconds` (CLOCK_MONOTONIC), so systemd can match it to the request.
    case reloading(monotonicMicroseconds: UInt64)
    /// Shutdown began.
    case stopping
    /// One line of free text that `systemctl status` shows.
    case status(String)
    /// The keep-alive ping of the service watchdog.
    case watchdog
    /// The daemon failed with this errno-style code.
    case errno(Int32)

    /// The `NAME=value` assignments this message stands for, in the order they are sent.
    public var assignments: [String] {
        switch self {
        case .ready: return ["READY=1"]
        case .reloading(let microseconds): return ["RELOADING=1", "MONOTONIC_USEC=\(microseconds)"]
        case .stopping: return ["STOPPING=1"]
        case .status(let text): return ["STATUS=\(Self.oneLine(text))"]
        case .watchdog: return ["WATCHDOG=1"]
        case .errno(let code): return ["ERRNO=\(code)"]
        }
    }

    /// The datagram for several messages sent at once: one assignment per line.
    public static func datagram(_ messages: [NotifyMessage]) -> String {
        messages.flatMap(\.assignments).joined(separator: "\n")
    }

    /// The protocol is line-based: a newline inside a status would start a bogus assignment.
    private static func oneLine(_ text: String) -> String {
        String(text.map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}

/// CLOCK_MONOTONIC in microseconds, the clock MONOTONIC_USEC is read on.
public func monotonicMicroseconds() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1000
}
