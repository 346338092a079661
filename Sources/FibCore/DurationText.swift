/// Parses a duration as fibd takes it everywhere (query strings, flags, the config file):
/// seconds (`30`, `0.5`) or with a unit (`30s`, `500ms`, `2m`). Nil for anything else,
/// including negative, NaN and absurdly large values.
public func parseDurationNanos(_ text: some StringProtocol) -> UInt64? {
    var number = Substring(text)
    var scale = 1e9
    if number.hasSuffix("ms") {
        number = number.dropLast(2)
        scale = 1e6
    } else if number.hasSuffix("s") {
        number = number.dropLast()
    } else if number.hasSuffix("m") {
        number = number.dropLast()
        scale = 60e9
    }
    guard !number.isEmpty, number.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2E }),
        let value = Double(number), value.isFinite, value * scale < 1e18
    else { return nil }
    return UInt64(value * scale)
}
