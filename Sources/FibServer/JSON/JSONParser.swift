import NIOCore

/// A strict RFC 8259 parser: one value, optional surrounding whitespace, nothing else.
/// Rejects comments, trailing commas, leading zeros, NaN/Infinity, invalid UTF-8, raw control
/// characters in strings and unpaired surrogates in `\u` escapes.
public enum JSONParser {
    public static let defaultMaxDepth = 64

    public static func parse(_ buffer: ByteBuffer, maxDepth: Int = defaultMaxDepth)
        throws(JSONParseError) -> JSONValue
    {
        let result = buffer.withUnsafeReadableBytes { bytes in
            Result { () throws(JSONParseError) -> JSONValue in
                var scanner = JSONScanner(bytes: bytes, maxDepth: maxDepth)
                return try scanner.parseDocument()
            }
        }
        return try result.get()
    }

    public static func parse(_ bytes: some Collection<UInt8>, maxDepth: Int = defaultMaxDepth)
        throws(JSONParseError)
        -> JSONValue
    {
        let contiguous = bytes.withContiguousStorageIfAvailable { pointer in
            Result { () throws(JSONParseError) -> JSONValue in
                var scanner = JSONScanner(bytes: UnsafeRawBufferPointer(pointer), maxDepth: maxDepth)
                return try scanner.parseDocument()
            }
        }
        if let contiguous { return try contiguous.get() }
        let copy = Array(bytes)
        let result = copy.withUnsafeBytes { pointer in
            Result { () throws(JSONParseError) -> JSONValue in
                var scanner = JSONScanner(bytes: pointer, maxDepth: maxDepth)
                return try scanner.parseDocument()
            }
        }
        return try result.get()
    }

    public static func parse(_ text: String, maxDepth: Int = defaultMaxDepth) throws(JSONParseError)
        -> JSONValue
    {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }
}

private enum ASCII {
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let slash = UInt8(ascii: "/")
    static let comma = UInt8(ascii: ",")
    static let colon = UInt8(ascii: ":")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let minus = UInt8(ascii: "-")
    static let plus = UInt8(ascii: "+")
    static let dot = UInt8(ascii: ".")
    static let zero = UInt8(ascii: "0")
    static let nine = UInt8(ascii: "9")
}

/// The parser's state over one contiguous input; recursion depth is bounded by `maxDepth`.
private struct JSONScanner {
    let bytes: UnsafeRawBufferPointer
    let maxDepth: Int
    var offset = 0

    init(bytes: UnsafeRawBufferPointer, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        skipWhitespace()
        let value = try parseValue(depth: 0)
        skipWhitespace()
        if offset < bytes.count { throw JSONParseError(.trailingData, at: offset) }
        return value
    }

    private mutating func skipWhitespace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            default: return
            }
        }
    }

    private func peek() throws(JSONParseError) -> UInt8 {
        guard offset < bytes.count else { throw JSONParseError(.unexpectedEnd, at: offset) }
        return bytes[offset]
    }

    private mutating func parseValue(depth: Int) throws(JSONParseError) -> JSONValue {
        switch try peek() {
        case ASCII.openBrace: return try parseObject(depth: depth + 1)
        case ASCII.openBracket: return try parseArray(depth: depth + 1)
        case ASCII.quote: return .string(try parseString())
        case UInt8(ascii: "t"):
            try expectLiteral("true")
            return .bool(true)
        case UInt8(ascii: "f"):
            try expectLiteral("false")
            return .bool(false)
        case UInt8(ascii: "n"):
            try expectLiteral("null")
            return .null
        case ASCII.minus, ASCII.zero...ASCII.nine:
            return .number(try parseNumber())
        case let byte:
            throw JSONParseError(.unexpectedByte(byte), at: offset)
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONParseError) {
        let start = offset
        let count = literal.utf8CodeUnitCount
        for index in 0..<count {
            guard start + index < bytes.count else {
                throw JSONParseError(.unexpectedEnd, at: bytes.count)
            }
            guard bytes[start + index] == literal.utf8Start[index] else {
                throw JSONParseError(.invalidLiteral, at: start + index)
            }
        }
        offset = start + count
    }

    private mutating func parseObject(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > maxDepth { throw JSONParseError(.tooDeep(limit: maxDepth), at: offset) }
        offset += 1  // {
        var members: [(String, JSONValue)] = []
        skipWhitespace()
        if try peek() == ASCII.closeBrace {
            offset += 1
            return .object(members)
        }
        while true {
            skipWhitespace()
            let byte = try peek()
            guard byte == ASCII.quote else { throw JSONParseError(.unexpectedByte(byte), at: offset) }
            let key = try parseString()
            skipWhitespace()
            let colon = try peek()
            guard colon == ASCII.colon else { throw JSONParseError(.unexpectedByte(colon), at: offset) }
            offset += 1
            skipWhitespace()
            members.append((key, try parseValue(depth: depth)))
            skipWhitespace()
            switch try peek() {
            case ASCII.comma: offset += 1
            case ASCII.closeBrace:
                offset += 1
                return .object(members)
            case let other: throw JSONParseError(.unexpectedByte(other), at: offset)
            }
        }
    }

    private mutating func parseArray(depth: Int) throws(JSONParseError) -> JSONValue {
        if depth > maxDepth { throw JSONParseError(.tooDeep(limit: maxDepth), at: offset) }
        offset += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if try peek() == ASCII.closeBracket {
            offset += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            switch try peek() {
            case ASCII.comma: offset += 1
            case ASCII.closeBracket:
                offset += 1
                return .array(elements)
            case let other: throw JSONParseError(.unexpectedByte(other), at: offset)
            }
        }
    }

    private mutating func parseNumber() throws(JSONParseError) -> JSONNumber {
        let start = offset
        if bytes[offset] == ASCII.minus { offset += 1 }
        // Integer part: 0 alone, or a non-zero digit followed by digits.
        guard offset < bytes.count else { throw JSONParseError(.unexpectedEnd, at: offset) }
        if bytes[offset] == ASCII.zero {
            offset += 1
            if offset < bytes.count, isDigit(bytes[offset]) {
                throw JSONParseError(.invalidNumber, at: offset)
            }
        } else if isDigit(bytes[offset]) {
            skipDigits()
        } else {
            throw JSONParseError(.invalidNumber, at: offset)
        }
        if offset < bytes.count, bytes[offset] == ASCII.dot {
            offset += 1
            try requireDigits()
        }
        if offset < bytes.count,
            bytes[offset] == UInt8(ascii: "e") || bytes[offset] == UInt8(ascii: "E")
        {
            offset += 1
            if offset < bytes.count, bytes[offset] == ASCII.plus || bytes[offset] == ASCII.minus {
                offset += 1
            }
            try requireDigits()
        }
        let text = String(
            decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
        return JSONNumber(validatedText: text)
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= ASCII.zero && byte <= ASCII.nine }

    private mutating func skipDigits() {
        while offset < bytes.count, isDigit(bytes[offset]) { offset += 1 }
    }

    private mutating func requireDigits() throws(JSONParseError) {
        guard offset < bytes.count else { throw JSONParseError(.unexpectedEnd, at: offset) }
        guard isDigit(bytes[offset]) else { throw JSONParseError(.invalidNumber, at: offset) }
        skipDigits()
    }

    /// Parses a string starting at its opening quote. Strings without escapes are decoded in one
    /// step from the input; escapes switch to building the bytes.
    private mutating func parseString() throws(JSONParseError) -> String {
        offset += 1  // opening quote
        let start = offset
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte == ASCII.quote {
                let text = String(
                    decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
                offset += 1
                return text
            }
            if byte == ASCII.backslash {
                var decoded = [UInt8](UnsafeRawBufferPointer(rebasing: bytes[start..<offset]))
                return try parseEscapedRest(into: &decoded)
            }
            try consumeStringByte(byte)
        }
        throw JSONParseError(.unexpectedEnd, at: offset)
    }

    /// Consumes one unescaped character (one byte, or one whole UTF-8 sequence) of a string.
    private mutating func consumeStringByte(_ byte: UInt8) throws(JSONParseError) {
        if byte < 0x20 { throw JSONParseError(.controlCharacterInString, at: offset) }
        if byte < 0x80 {
            offset += 1
            return
        }
        let length = UTF8Validation.sequenceLength(bytes, at: offset)
        guard length > 0 else { throw JSONParseError(.invalidUTF8, at: offset) }
        offset += length
    }

    private mutating func parseEscapedRest(into decoded: inout [UInt8]) throws(JSONParseError)
        -> String
    {
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte == ASCII.quote {
                offset += 1
                return String(decoding: decoded, as: UTF8.self)
            }
            if byte == ASCII.backslash {
                try parseEscape(into: &decoded)
                continue
            }
            let start = offset
            try consumeStringByte(byte)
            decoded.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]))
        }
        throw JSONParseError(.unexpectedEnd, at: offset)
    }

    private mutating func parseEscape(into decoded: inout [UInt8]) throws(JSONParseError) {
        let escapeStart = offset
        offset += 1  // backslash
        guard offset < bytes.count else { throw JSONParseError(.unexpectedEnd, at: offset) }
        let code = bytes[offset]
        offset += 1
        switch code {
        case ASCII.quote, ASCII.backslash, ASCII.slash: decoded.append(code)
        case UInt8(ascii: "b"): decoded.append(0x08)
        case UInt8(ascii: "f"): decoded.append(0x0C)
        case UInt8(ascii: "n"): decoded.append(0x0A)
        case UInt8(ascii: "r"): decoded.append(0x0D)
        case UInt8(ascii: "t"): decoded.append(0x09)
        case UInt8(ascii: "u"):
            var scalarValue = UInt32(try parseHex4())
            if scalarValue >= 0xD800 && scalarValue <= 0xDBFF {
                // A high surrogate must be followed at once by an escaped low surrogate.
                guard offset + 1 < bytes.count, bytes[offset] == ASCII.backslash,
                    bytes[offset + 1] == UInt8(ascii: "u")
                else { throw JSONParseError(.loneSurrogate, at: escapeStart) }
                offset += 2
                let low = UInt32(try parseHex4())
                guard low >= 0xDC00 && low <= 0xDFFF else {
                    throw JSONParseError(.loneSurrogate, at: escapeStart)
                }
                scalarValue = 0x10000 + ((scalarValue - 0xD800) << 10) + (low - 0xDC00)
            } else if scalarValue >= 0xDC00 && scalarValue <= 0xDFFF {
                throw JSONParseError(.loneSurrogate, at: escapeStart)
            }
            Self.appendUTF8(scalarValue, to: &decoded)
        default:
            throw JSONParseError(.invalidEscape, at: escapeStart)
        }
    }

    /// Encodes a Unicode scalar value (never a surrogate, at most U+10FFFF) as UTF-8.
    private static func appendUTF8(_ value: UInt32, to bytes: inout [UInt8]) {
        switch value {
        case 0..<0x80:
            bytes.append(UInt8(value))
        case 0x80..<0x800:
            bytes.append(UInt8(0xC0 | (value >> 6)))
            bytes.append(UInt8(0x80 | (value & 0x3F)))
        case 0x800..<0x10000:
            bytes.append(UInt8(0xE0 | (value >> 12)))
            bytes.append(UInt8(0x80 | ((value >> 6) & 0x3F)))
            bytes.append(UInt8(0x80 | (value & 0x3F)))
        default:
            bytes.append(UInt8(0xF0 | (value >> 18)))
            bytes.append(UInt8(0x80 | ((value >> 12) & 0x3F)))
            bytes.append(UInt8(0x80 | ((value >> 6) & 0x3F)))
            bytes.append(UInt8(0x80 | (value & 0x3F)))
        }
    }

    private mutating func parseHex4() throws(JSONParseError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard offset < bytes.count else { throw JSONParseError(.unexpectedEnd, at: offset) }
            let byte = bytes[offset]
            let digit: UInt8
            switch byte {
            case ASCII.zero...ASCII.nine: digit = byte - ASCII.zero
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw JSONParseError(.invalidEscape, at: offset)
            }
            value = value << 4 | UInt16(digit)
            offset += 1
        }
        return value
    }
}

/// UTF-8 well-formedness per the Unicode standard (table 3-7): no overlong forms, no encoded
/// surrogates, nothing above U+10FFFF.
enum UTF8Validation {
    /// The length of the well-formed multi-byte sequence starting at `offset`, or 0 if it is ill-formed
    /// or truncated. `bytes[offset]` must be >= 0x80.
    static func sequenceLength(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Int {
        let lead = bytes[offset]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0:
            length = 3
            secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED:
            length = 3
            secondRange = 0x80...0x9F
        case 0xF0:
            length = 4
            secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4:
            length = 4
            secondRange = 0x80...0x8F
        default: return 0
        }
        guard offset + length <= bytes.count else { return 0 }
        guard secondRange.contains(bytes[offset + 1]) else { return 0 }
        for index in 2..<length where !(0x80...0xBF).contains(bytes[offset + index]) {
            return 0
        }
        return length
    }
}
