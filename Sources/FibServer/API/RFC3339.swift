import NIOCore

/// A Unix time in nanoseconds as UTC calendar fields, to the millisecond.
struct CivilTime {
    var year, month, day, hour, minute, second, millisecond: Int64

    init(wallNanos: Int64) {
        let millis = wallNanos / 1_000_000
        var days = millis / 86_400_000
        var msOfDay = millis % 86_400_000
        if msOfDay < 0 {
            msOfDay += 86_400_000
            days -= 1
        }
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        hour = msOfDay / 3_600_000
        minute = msOfDay / 60_000 % 60
        second = msOfDay / 1000 % 60
        millisecond = msOfDay % 1000
    }

    /// Whether the year has four digits, the form `write(into:)` takes.
    var hasFourDigitYear: Bool { (0...9999).contains(year) }

    /// The length of `2026-11-24T22:47:38.123Z`.
    static let length = 24

    /// Writes the RFC 3339 text, `length` bytes; only for a four-digit year.
    func write(into bytes: UnsafeMutableRawBufferPointer) {
        var index = 0
        func digits(_ value: Int64, _ width: Int, then separator: UInt8) {
            var rest = value
            for place in stride(from: index + width - 1, through: index, by: -1) {
                bytes[place] = UInt8(truncatingIfNeeded: 48 + rest % 10)
                rest /= 10
            }
            bytes[index + width] = separator
            index += width + 1
        }
        digits(year, 4, then: UInt8(ascii: "-"))
        digits(month, 2, then: UInt8(ascii: "-"))
        digits(day, 2, then: UInt8(ascii: "T"))
        digits(hour, 2, then: UInt8(ascii: ":"))
        digits(minute, 2, then: UInt8(ascii: ":"))
        digits(second, 2, then: UInt8(ascii: "."))
        digits(millisecond, 3, then: UInt8(ascii: "Z"))
    }
}

/// Formats a Unix time in nanoseconds as RFC 3339 UTC with milliseconds: `2026-11-24T22:47:38.123Z`.
func rfc3339(_ wallNanos: Int64) -> String {
    let time = CivilTime(wallNanos: wallNanos)
    if time.hasFourDigitYear {
        return String(unsafeUninitializedCapacity: CivilTime.length) { bytes in
            time.write(into: UnsafeMutableRawBufferPointer(bytes))
            return CivilTime.length
        }
    }
    func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.utf8.count)) + text
    }
    return "\(pad(time.year, 4))-\(pad(time.month, 2))-\(pad(time.day, 2))T\(pad(time.hour, 2)):"
        + "\(pad(time.minute, 2)):\(pad(time.second, 2)).\(pad(time.millisecond, 3))Z"
}

extension JSONWriter {
    /// An RFC 3339 timestamp (see ``rfc3339(_:)``), written straight into the buffer.
    mutating func timestamp(_ wallNanos: Int64) {
        let time = CivilTime(wallNanos: wallNanos)
        guard time.hasFourDigitYear else { return string(rfc3339(wallNanos)) }
        asciiString(count: CivilTime.length) { time.write(into: $0) }
    }
}
