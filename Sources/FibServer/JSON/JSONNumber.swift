/// A JSON number that keeps the exact text it was written with, so that large integers
/// (beyond 2^53) survive without being rounded through `Double`.
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible {
    /// The number as it appeared in the JSON text (RFC 8259 grammar).
    public let text: String

    /// Wraps text that the caller has already checked against the RFC 8259 number grammar.
    init(validatedText text: String) {
        self.text = text
    }

    public init(_ value: Int) {
        self.text = String(value)
    }

    public init(_ value: UInt64) {
        self.text = String(value)
    }

    /// A finite `Double`, written as its shortest round-trip text; `nil` for NaN and infinities,
    /// which JSON cannot represent.
    public init?(_ value: Double) {
        guard value.isFinite else { return nil }
        self.text = value.description
    }

    public var description: String { text }

    /// The value as `Int` when it is an integer (also `1.0`, `1e3`, `-0`) that fits; otherwise `nil`.
    public var int: Int? {
        if let plain = Int(text) { return plain }  // the common case: integer text, no exponent
        guard let (negative, magnitude) = exactInteger() else { return nil }
        if negative {
            if magnitude <= UInt64(Int.max) { return -Int(magnitude) }
            return magnitude == UInt64(Int.max) + 1 ? Int.min : nil
        }
        return magnitude <= UInt64(Int.max) ? Int(magnitude) : nil
    }

    /// The value as `UInt64` when it is a non-negative integer that fits; otherwise `nil`.
    public var uint64: UInt64? {
        if let plain = UInt64(text) { return plain }
        guard let (negative, magnitude) = exactInteger() else { return nil }
        if negative { return magnitude == 0 ? 0 : nil }
        return magnitude
    }

    /// Whether the value is an integer that fits `Int64`/`UInt64` exactly.
    public var isExactInteger: Bool { exactInteger() != nil }

    /// The nearest `Double`; `nil` when the text overflows `Double` (for example `1e400`).
    public var double: Double? {
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// Sign and magnitude of the value when it is an integer whose magnitude fits `UInt64`.
    private func exactInteger() -> (negative: Bool, magnitude: UInt64)? {
        var utf8 = Array(text.utf8)[...]
        var negative = false
        if utf8.first == UInt8(ascii: "-") {
            negative = true
            utf8 = utf8.dropFirst()
        }
        var digits: [UInt8] = []
        digits.reserveCapacity(utf8.count)
        var fractionDigits = 0
        var exponent = 0
        var inFraction = false
        var index = utf8.startIndex
        while index < utf8.endIndex {
            let byte = utf8[index]
            if byte == UInt8(ascii: ".") {
                inFraction = true
            } else if byte == UInt8(ascii: "e") || byte == UInt8(ascii: "E") {
                guard let parsed = Self.parseExponent(utf8[(index + 1)...]) else { return nil }
                exponent = parsed
                break
            } else if byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                digits.append(byte &- UInt8(ascii: "0"))
                if inFraction { fractionDigits += 1 }
            } else {
                return nil
            }
            index += 1
        }
        // Value = digits * 10^scale.
        var scale = exponent - fractionDigits
        while let first = digits.first, first == 0 { digits.removeFirst() }
        if digits.isEmpty { return (false, 0) }
        while scale < 0, let last = digits.last, last == 0 {
            digits.removeLast()
            scale += 1
        }
        guard scale >= 0, digits.count + scale <= 20 else { return nil }
        var magnitude: UInt64 = 0
        for digit in digits + [UInt8](repeating: 0, count: scale) {
            let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit))
            if overflow1 || overflow2 { return nil }
            magnitude = sum
        }
        return (negative, magnitude)
    }

    /// Parses an exponent, saturating far beyond any exponent that could still give an exact integer.
    private static func parseExponent(_ bytes: ArraySlice<UInt8>) -> Int? {
        var rest = bytes
        var negative = false
        if let sign = rest.first, sign == UInt8(ascii: "-") || sign == UInt8(ascii: "+") {
            negative = sign == UInt8(ascii: "-")
            rest = rest.dropFirst()
        }
        guard !rest.isEmpty else { return nil }
        var value = 0
        for byte in rest {
            guard byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") else { return nil }
            value = min(value * 10 + Int(byte &- UInt8(ascii: "0")), 1_000_000)
        }
        return negative ? -value : value
    }
}
