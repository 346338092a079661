import FibCore
import NIOCore

/// The longest wait a request can name; longer values are cut to it before --max-wait cuts them again.
private let longestWaitNanos: UInt64 = 1_000_000_000_000_000_000

/// A `wait` query value as a NIO time amount; nil if it is not a duration (see ``parseDurationNanos(_:)``).
/// Values too large to count in nanoseconds are not errors: every wait is clamped to --max-wait anyway.
func parseWait(_ text: String) -> TimeAmount? {
    if let nanos = wholeDurationNanos(text) { return .nanoseconds(Int64(nanos)) }
    if let nanos = parseDurationNanos(text) { return .nanoseconds(Int64(min(nanos, longestWaitNanos))) }
    guard Double(durationText: text) != nil else { return nil }
    return .nanoseconds(Int64(longestWaitNanos))
}

/// The common form of a wait, a whole number of seconds or milliseconds up to six digits (`10`, `10s`,
/// `500ms`), read from the bytes without `Substring` or `Double`: the same value ``parseDurationNanos(_:)``
/// gives (its `Double` product is exact for these), nil for any other form.
func wholeDurationNanos(_ text: String) -> UInt64? {
    var utf8 = text.utf8[...]
    var scale: UInt64 = 1_000_000_000
    if utf8.last == UInt8(ascii: "s") {
        utf8 = utf8.dropLast()
        if utf8.last == UInt8(ascii: "m") {
            utf8 = utf8.dropLast()
            scale = 1_000_000
        }
    }
    guard !utf8.isEmpty, utf8.count <= 6 else { return nil }
    var value: UInt64 = 0
    for byte in utf8 {
        guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
        value = value * 10 + UInt64(byte - UInt8(ascii: "0"))
    }
    return value * scale
}

/// A `timeout` query value: a duration as `wait` takes it, or any JSON number of seconds (`1e-3`), more
/// than 0. One too small to count in nanoseconds is 1 ns rather than an error: it is still more than 0.
func parseTimeoutNanos(_ text: String) -> UInt64? {
    if let nanos = parseDurationNanos(text) { return nanos > 0 ? nanos : positiveZero(text) }
    guard case .number(let number)? = try? JSONParser.parse(text), let value = number.double, value > 0 else {
        return nil
    }
    return value * 1e9 >= 1e18 ? UInt64.max : max(1, UInt64(value * 1e9))
}

/// 1 ns for a duration that is more than 0 but rounds to 0 ns ("0.0000000001"); nil for a real 0.
private func positiveZero(_ text: String) -> UInt64? {
    (Double(durationText: text) ?? 0) > 0 ? 1 : nil
}

extension Double {
    /// The number of a duration in the grammar of ``parseDurationNanos(_:)`` (digits, a dot, a unit),
    /// whatever its size.
    init?(durationText text: String) {
        var number = Substring(text)
        for unit in ["ms", "s", "m"] where number.hasSuffix(unit) {
            number = number.dropLast(unit.count)
            break
        }
        guard !number.isEmpty, number.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E }),
            let value = Double(number), value.isFinite
        else { return nil }
        self = value
    }
}

/// Seconds as JSON and people read them: 0.5, 300, 1.234.
func seconds(_ nanos: UInt64) -> Double {
    Double(nanos) / Double(nanosPerSecond)
}
