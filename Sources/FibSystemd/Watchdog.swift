import CSystemd
import NIOCore
import Synchronization

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
    public static func intervalFromEnvironment() -> TimeAmount? {
        var microseconds: UInt64 = 0
        guard sd_watchdog_enabled(0, &microseconds) > 0 else { return nil }
        return interval(watchdogMicroseconds: microseconds)
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
