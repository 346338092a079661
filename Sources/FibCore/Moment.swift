/// A point in time as the scheduler sees it. FibCore never reads a clock: every
/// entry point is handed the current moment, so its behaviour is deterministic.
public struct Moment: Sendable, Hashable {
    /// A monotonic clock in nanoseconds (CLOCK_MONOTONIC): for deadlines and durations.
    public var monotonicNanos: UInt64
    /// The wall clock in nanoseconds since the Unix epoch: for the timestamps users read.
    public var wallNanos: Int64

    public init(monotonicNanos: UInt64, wallNanos: Int64) {
        self.monotonicNanos = monotonicNanos
        self.wallNanos = wallNanos
    }

    /// This moment moved forward by `nanos` on both clocks.
    public func advanced(byNanos nanos: UInt64) -> Moment {
        Moment(monotonicNanos: monotonicNanos + nanos, wallNanos: wallNanos + Int64(nanos))
    }
}

/// Nanoseconds per second, for conversions at the edges.
public let nanosPerSecond: UInt64 = 1_000_000_000
