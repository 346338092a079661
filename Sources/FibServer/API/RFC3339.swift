/// Formats a Unix time in nanoseconds as RFC 3339 UTC with milliseconds: `2026-11-24T22:47:38.123Z`.
func rfc3339(_ wallNanos: Int64) -> String {
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
    let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
    let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
    let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)

    let hour = msOfDay / 3_600_000
    let minute = msOfDay / 60_000 % 60
    let second = msOfDay / 1000 % 60
    let ms = msOfDay % 1000
    if (0...9999).contains(year) {
        // Every task in an answer has three of these: written in place, one allocation each.
        return String(unsafeUninitializedCapacity: 24) { bytes in
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
            digits(ms, 3, then: UInt8(ascii: "Z"))
            return index
        }
    }
    func pad(_ value: Int64, _ width: Int) -> String {
        let text = String(value)
        return String(repeating: "0", count: max(0, width - text.utf8.count)) + text
    }
    return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))T\(pad(hour, 2)):\(pad(minute, 2)):\(pad(second, 2))."
        + "\(pad(ms, 3))Z"
}
