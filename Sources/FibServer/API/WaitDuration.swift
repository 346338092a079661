import FibCore
import NIOCore

/// A `wait` query value as a NIO time amount; nil if it is not a duration (see ``parseDurationNanos(_:)``).
func parseWait(_ text: String) -> TimeAmount? {
    parseDurationNanos(text).map { .nanoseconds(Int64($0)) }
}

/// Seconds as JSON and people read them: 0.5, 300, 1.234.
func seconds(_ nanos: UInt64) -> Double {
    Double(nanos) / Double(nanosPerSecond)
}
