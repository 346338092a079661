import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The service watchdog's heartbeat: `beat` runs every `interval` on one event loop, and only there.
///
/// Because the heartbeat is a task of that loop, a loop that is stuck (blocked by a bug, a deadlock,
/// an endless callback) sends nothing, and systemd restarts the service once WatchdogSec= passes.
/// `isMakingProgress` is asked on the loop before each beat, for checks beyond "the loop runs".
public final class Watchdog: Sendable {
    public let interval: TimeAmount
    private let eventLoop: any EventLoop
    private let isMakingProgress: @Sendable () -> Bool
    private let beat: @Sendable () -> Void
    private let repeated = Mutex<RepeatedTask?>(nil)

    public init(
        interval: TimeAmount, eventLoop: any EventLoop,
        isMakingProgress: @escaping @Sendable () -> Bool = { true },
        beat: @escaping @Sendable () -> Void
    ) {
        self.interval = interval
        self.eventLoop = eventLoop
        self.isMakingProgress = isMakingProgress
        self.beat = beat
    }

    /// Half the watchdog timeout, as sd_watchdog_enabled(3) advises; nil when systemd asked for no
    /// watchdog (no `$WATCHDOG_USEC`, or `$WATCHDOG_PID` names another process).
    /// The variables are read from the process's environment and left there, as sd_watchdog_enabled(0, ...) does.
    public static func intervalFromEnvironment() -> TimeAmount? {
        var environment: [String: String] = [:]
        for name in ["WATCHDOG_USEC", "WATCHDOG_PID"] {
            if let value = getenv(name) { environment[name] = String(cString: value) }
        }
        return watchdogMicroseconds(environment: environment, processID: getpid()).map {
            interval(watchdogMicroseconds: $0)
        }
    }

    /// The watchdog timeout that `$WATCHDOG_USEC` asks of process `processID`: nil when it is unset, malformed,
    /// zero or infinite, or when `$WATCHDOG_PID` is set and names another process (sd_watchdog_enabled(3)).
    public static func watchdogMicroseconds(environment: [String: String], processID: pid_t) -> UInt64? {
        guard let text = environment["WATCHDOG_USEC"], let microseconds = UInt64(text),
            microseconds > 0, microseconds != UInt64.max
        else { return nil }
        if let pidText = environment["WATCHDOG_PID"] {
            guard let pid = pid_t(pidText), pid == processID else { return nil }
        }
        return microseconds
    }

    /// Half of `watchdogMicroseconds`, at least one millisecond.
    public static func interval(watchdogMicroseconds: UInt64) -> TimeAmount {
        let half = min(watchdogMicroseconds / 2, UInt64(Int64.max / 1000))
        return .microseconds(max(Int64(half), 1000))
    }

    /// Beats once at once, then every `interval`.
    public func start() {
        let task = eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: interval) { [self] _ in
            if isMakingProgress() { beat() }
        }
        repeated.withLock { previous in
            previous?.cancel()
            previous = task
        }
    }

    public func stop() {
        repeated.withLock { task in
            task?.cancel()
            task = nil
        }
    }
}
