/// Why a JSON text was rejected, and where: `offset` is the byte offset of the offending byte
/// (or the input length when the text ended too early).
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        case unexpectedEnd
        case unexpectedByte(UInt8)
        case trailingData
        case invalidNumber
        case invalidLiteral
        case invalidEscape
        case loneSurrogate
        case controlCharacterInString
        case invalidUTF8
        case tooDeep(limit: Int)
    }

    public let reason: Reason
    public let offset: Int

    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    public var description: String {
        let what: String
        switch reason {
        case .unexpectedEnd: what = "unexpected end of input"
        case .unexpectedByte(let byte):
            if byte >= 0x20 && byte < 0x7F {
                what = "unexpected character '\(Character(Unicode.Scalar(byte)))'"
            } else {
                what = "unexpected byte 0x\(String(byte, radix: 16))"
            }
        case .trailingData: what = "unexpected data after the JSON value"
        case .invalidNumber: what = "invalid number"
        case .invalidLiteral: what = "invalid literal (expected true, false or null)"
        case .invalidEscape: what = "invalid escape sequence in string"
        case .loneSurrogate: what = "unpaired UTF-16 surrogate in \\u escape"
        case .controlCharacterInString: what = "unescaped control character in string"
        case .invalidUTF8: what = "invalid UTF-8"
        case .tooDeep(let limit): what = "nesting deeper than \(limit) levels"
        }
        return "\(what) at byte \(offset)"
    }
}
