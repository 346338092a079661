/// Percent-decoding of request targets (RFC 3986) and form-style query components.
enum PercentDecoding {
    /// Decodes `%XX` (and `+` as space when `plusAsSpace`). Returns `nil` for a malformed escape
    /// or when the decoded bytes are not UTF-8. Text without escapes is returned as is.
    static func decode(_ text: Substring, plusAsSpace: Bool) -> String? {
        let needsDecoding = text.utf8.contains {
            $0 == UInt8(ascii: "%") || (plusAsSpace && $0 == UInt8(ascii: "+"))
        }
        guard needsDecoding else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue),
                    let low = iterator.next().flatMap(hexValue)
                else {
                    return nil
                }
                bytes.append(high << 4 | low)
            case UInt8(ascii: "+") where plusAsSpace:
                bytes.append(UInt8(ascii: " "))
            default:
                bytes.append(byte)
            }
        }
        return String(validatingUTF8Bytes: bytes)
    }

    /// Whether `encoded`, once decoded as a query component, equals `name`, without allocating
    /// when `encoded` has no escapes.
    static func componentEquals(_ encoded: Substring, _ name: String) -> Bool {
        let hasEscapes = encoded.utf8.contains { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }
        if !hasEscapes { return encoded == name }
        return decode(encoded, plusAsSpace: true) == name
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

extension String {
    /// Creates a string from UTF-8 bytes, or `nil` if they are not well-formed UTF-8.
    init?(validatingUTF8Bytes bytes: [UInt8]) {
        let valid = bytes.withUnsafeBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                if raw[offset] < 0x80 {
                    offset += 1
                    continue
                }
                let length = UTF8Validation.sequenceLength(raw, at: offset)
                if length == 0 { return false }
                offset += length
            }
            return true
        }
        guard valid else { return nil }
        self.init(decoding: bytes, as: UTF8.self)
    }
}
