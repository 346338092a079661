import NIOCore
import NIOHTTP1

/// How a request's body is framed (RFC 9112 section 6).
enum BodyFraming: Equatable, Sendable {
    case none
    case length(Int)
    case chunked
}

/// The content coding a client accepts for a compressible response.
enum ResponseCoding: UInt8, Sendable {
    case identity, gzip, deflate

    /// Chooses as NIO's response compressor did: the higher weight of gzip and deflate (deflate on
    /// a tie), else gzip for `*`, else none.
    static func chosen(acceptEncoding value: Substring) -> ResponseCoding {
        var gzipWeight: Float = -1
        var deflateWeight: Float = -1
        var anyWeight: Float = -1
        for element in value.split(separator: ",") {
            let coding = element.drop { $0 == " " || $0 == "\t" }
            if coding.hasPrefix("gzip") || coding.hasPrefix("x-gzip") {
                gzipWeight = weight(coding)
            } else if coding.hasPrefix("deflate") {
                deflateWeight = weight(coding)
            } else if coding.hasPrefix("*") {
                anyWeight = weight(coding)
            }
        }
        if gzipWeight > 0 || deflateWeight > 0 { return gzipWeight > deflateWeight ? .gzip : .deflate }
        return anyWeight > 0 ? .gzip : .identity
    }

    /// The `q` parameter of one element: 1 when absent, 0 when malformed.
    private static func weight(_ element: Substring) -> Float {
        guard let semicolon = element.firstIndex(of: ";") else { return 1 }
        let parameter = element[element.index(after: semicolon)...].trimmingSpaces()
        if parameter.isEmpty { return 1 }
        guard parameter.count > 2, parameter.first == "q" || parameter.first == "Q",
            parameter.dropFirst().first == "="
        else { return 0 }
        guard let weight = Float(parameter.dropFirst(2).trimmingSpaces()), weight >= 0, weight <= 1 else { return 0 }
        return weight
    }
}

extension Substring {
    fileprivate func trimmingSpaces() -> Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result.removeFirst() }
        while let last = result.last, last == " " || last == "\t" { result.removeLast() }
        return result
    }
}

/// A request head as it arrived, with what the connection needs to know about it.
struct ParsedRequestHead {
    var method: HTTPMethod
    var uri: String
    var version: HTTPVersion
    var headers: HTTPHeaders
    var framing: BodyFraming
    var keepAlive: Bool
    var expectsContinue: Bool
    var coding: ResponseCoding
}

/// The outcome of looking for a request head at the start of some bytes.
enum HeadParseResult {
    /// No complete head yet, and nothing wrong with what is there.
    case incomplete
    /// A head of `length` bytes (its blank line and any empty lines before it included).
    case head(ParsedRequestHead, length: Int)
    /// The head is (or would become) longer than the limit.
    case tooLarge
    case malformed(String)
}

/// Parses HTTP/1.x request heads (RFC 9112) straight from received bytes. Strict where leniency
/// would let two parsers disagree on where a request ends (bare LF, obs-fold, whitespace before a
/// colon, conflicting framing headers); every read stays inside the given bytes.
enum HTTPRequestParser {
    private static let cr = UInt8(ascii: "\r")
    private static let lf = UInt8(ascii: "\n")
    private static let space = UInt8(ascii: " ")
    private static let tab = UInt8(ascii: "\t")
    private static let colon = UInt8(ascii: ":")

    /// Looks for a complete head at the start of `bytes`. `scanned` is how many bytes an earlier
    /// call already searched for the head's end (pass 0 at first; it is updated), so that a head
    /// arriving byte by byte is searched once.
    static func parseHead(_ bytes: UnsafeRawBufferPointer, scanned: inout Int, maxHeadBytes: Int)
        -> HeadParseResult
    {
        // RFC 9112 section 2.2: empty lines before the request line are ignored.
        var start = 0
        while start + 1 < bytes.count, bytes[start] == cr, bytes[start + 1] == lf { start += 2 }
        if start > maxHeadBytes { return .tooLarge }
        var index = max(start, scanned - 3)
        var end = -1
        while index + 3 < bytes.count {
            if bytes[index + 3] != lf {
                // The byte at index+3 cannot end a terminator that starts at or after index.
                index += bytes[index + 3] == cr ? 1 : 4
                continue
            }
            if bytes[index] == cr, bytes[index + 1] == lf, bytes[index + 2] == cr {
                end = index
                break
            }
            index += 1
        }
        if end < 0 {
            scanned = max(start, bytes.count)
            if bytes.count - start > maxHeadBytes { return .tooLarge }
            if let problem = checkMethodPrefix(bytes, from: start) { return .malformed(problem) }
            return .incomplete
        }
        let headLength = end + 4
        if headLength - start > maxHeadBytes { return .tooLarge }
        scanned = 0
        switch parseLines(UnsafeRawBufferPointer(rebasing: bytes[start..<(end + 2)])) {
        case .success(let head): return .head(head, length: headLength)
        case .failure(let problem): return .malformed(problem.detail)
        }
    }

    /// A request that cannot be HTTP (a TLS hello, say) is refused before its head is complete.
    private static func checkMethodPrefix(_ bytes: UnsafeRawBufferPointer, from start: Int) -> String? {
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            if byte == space { return index == start ? "the request line starts with a space" : nil }
            // The first half of an empty line's CRLF, the rest to come.
            if byte == cr && index == start && index + 1 == bytes.count { return nil }
            if !isTokenByte(byte) { return "the request method is not a token" }
            index += 1
        }
        return nil
    }

    struct Malformed: Error {
        var detail: String
        init(_ detail: String) { self.detail = detail }
    }

    /// Parses the request line and header lines; `lines` ends with the last line's CRLF.
    private static func parseLines(_ lines: UnsafeRawBufferPointer) -> Result<ParsedRequestHead, Malformed> {
        var lineStart = 0
        guard let requestLineEnd = lineEnd(lines, from: 0) else {
            return .failure(Malformed("the request line does not end with CRLF"))
        }
        let requestLine: (method: HTTPMethod, uri: String, version: HTTPVersion)
        switch parseRequestLine(UnsafeRawBufferPointer(rebasing: lines[0..<requestLineEnd])) {
        case .success(let parsed): requestLine = parsed
        case .failure(let problem): return .failure(problem)
        }
        lineStart = requestLineEnd + 2
        var headers = HTTPHeaders()
        var contentLength: Int?
        var chunked = false
        var connectionClose = false
        var connectionKeepAlive = false
        var expectsContinue = false
        var coding = ResponseCoding.identity
        while lineStart < lines.count {
            guard let end = lineEnd(lines, from: lineStart) else {
                return .failure(Malformed("a header line does not end with CRLF"))
            }
            let line = UnsafeRawBufferPointer(rebasing: lines[lineStart..<end])
            lineStart = end + 2
            guard let first = line.first else { return .failure(Malformed("an empty header line")) }
            if first == space || first == tab {
                return .failure(Malformed("obsolete line folding in the header fields"))
            }
            guard let colonIndex = line.firstIndex(of: colon), colonIndex > 0 else {
                return .failure(Malformed("a header line without a field name"))
            }
            for byte in line[0..<colonIndex] where !isTokenByte(byte) {
                return .failure(Malformed("a header field name that is not a token"))
            }
            var valueStart = colonIndex + 1
            var valueEnd = line.count
            while valueStart < valueEnd, line[valueStart] == space || line[valueStart] == tab { valueStart += 1 }
            while valueEnd > valueStart, line[valueEnd - 1] == space || line[valueEnd - 1] == tab { valueEnd -= 1 }
            for byte in line[valueStart..<valueEnd] where !isFieldValueByte(byte) {
                return .failure(Malformed("a header field value with a control character"))
            }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: line[0..<colonIndex]), as: UTF8.self)
            let value = String(decoding: UnsafeRawBufferPointer(rebasing: line[valueStart..<valueEnd]), as: UTF8.self)
            switch colonIndex {
            case 14 where name.lowercased() == "content-length":
                guard let length = parseContentLength(value) else {
                    return .failure(Malformed("invalid Content-Length"))
                }
                if let earlier = contentLength, earlier != length {
                    return .failure(Malformed("conflicting Content-Length fields"))
                }
                contentLength = length
            case 17 where name.lowercased() == "transfer-encoding":
                guard !chunked, value.lowercased() == "chunked" else {
                    return .failure(Malformed("unsupported Transfer-Encoding (only chunked is accepted)"))
                }
                chunked = true
            case 10 where name.lowercased() == "connection":
                for option in value.lowercased().split(separator: ",") {
                    let token = option.trimmingSpaces()
                    if token == "close" { connectionClose = true }
                    if token == "keep-alive" { connectionKeepAlive = true }
                }
            case 6 where name.lowercased() == "expect":
                expectsContinue = value.lowercased() == "100-continue"
            case 15 where name.lowercased() == "accept-encoding":
                coding = ResponseCoding.chosen(acceptEncoding: value[...])
            default:
                break
            }
            headers.add(name: name, value: value)
        }
        if chunked && contentLength != nil {
            return .failure(Malformed("both Content-Length and Transfer-Encoding"))
        }
        let framing: BodyFraming
        if chunked {
            framing = .chunked
        } else if let contentLength, contentLength > 0 {
            framing = .length(contentLength)
        } else {
            framing = .none
        }
        let keepAlive =
            requestLine.version.minor == 1 ? !connectionClose : (connectionKeepAlive && !connectionClose)
        return .success(
            ParsedRequestHead(
                method: requestLine.method, uri: requestLine.uri, version: requestLine.version,
                headers: headers, framing: framing, keepAlive: keepAlive, expectsContinue: expectsContinue,
                coding: coding))
    }

    private static func parseRequestLine(_ line: UnsafeRawBufferPointer) -> Result<
        (method: HTTPMethod, uri: String, version: HTTPVersion), Malformed
    > {
        guard let methodEnd = line.firstIndex(of: space), methodEnd > 0 else {
            return .failure(Malformed("the request line has no method"))
        }
        for byte in line[0..<methodEnd] where !isTokenByte(byte) {
            return .failure(Malformed("the request method is not a token"))
        }
        let targetStart = methodEnd + 1
        var targetEnd = targetStart
        while targetEnd < line.count, line[targetEnd] != space {
            // Visible ASCII only: raw UTF-8, controls and NUL must be percent-encoded.
            guard line[targetEnd] > 0x20, line[targetEnd] < 0x7F else {
                return .failure(Malformed("the request target has a byte that must be percent-encoded"))
            }
            targetEnd += 1
        }
        guard targetEnd > targetStart, targetEnd < line.count else {
            return .failure(Malformed("the request line is not 'method target version'"))
        }
        let version = UnsafeRawBufferPointer(rebasing: line[(targetEnd + 1)...])
        guard version.count == 8, version.starts(with: "HTTP/1.".utf8) else {
            return .failure(Malformed("the request line does not end with HTTP/1.0 or HTTP/1.1"))
        }
        let minor: Int
        switch version[7] {
        case UInt8(ascii: "0"): minor = 0
        case UInt8(ascii: "1"): minor = 1
        default: return .failure(Malformed("unsupported HTTP version"))
        }
        let method = HTTPMethod(
            rawValue: String(decoding: UnsafeRawBufferPointer(rebasing: line[0..<methodEnd]), as: UTF8.self))
        let uri = String(decoding: UnsafeRawBufferPointer(rebasing: line[targetStart..<targetEnd]), as: UTF8.self)
        return .success((method, uri, HTTPVersion(major: 1, minor: minor)))
    }

    /// The index of the CR of the CRLF that ends the line starting at `start`, or nil if a bare CR
    /// or LF comes first or the bytes end.
    private static func lineEnd(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var index = start
        while index < bytes.count {
            let byte = bytes[index]
            if byte == cr { return index + 1 < bytes.count && bytes[index + 1] == lf ? index : nil }
            if byte == lf { return nil }
            index += 1
        }
        return nil
    }

    /// Digits only (no sign, no list), at most 18 of them so that the value cannot overflow.
    static func parseContentLength(_ text: String) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 18 else { return nil }
        var value = 0
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    /// RFC 9110 tchar.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// RFC 9110 field-vchar, SP and HTAB (obs-text allowed).
    private static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == tab || (byte >= 0x20 && byte != 0x7F)
    }
}

/// Decodes a chunked body (RFC 9112 section 7.1) as it arrives, in any split. Chunk extensions
/// and trailer fields are read and dropped, within `maxLineBytes` in all.
struct ChunkedBodyDecoder {
    enum Outcome: Equatable {
        case needMore
        case done
        case tooLarge
        case malformed(String)
    }

    private enum State {
        case size, sizeExtension, sizeLF, data, dataCR, dataLF, trailerStart, trailerLine, trailerLF, finalLF, done
    }

    private var state = State.size
    private var size = 0
    private var sizeDigits = 0
    private var remaining = 0
    private var lineBytes = 0

    /// Consumes bytes up to the end of the body (or all of them), appending chunk data to `body`.
    /// Returns how many bytes were consumed and whether the body is complete.
    mutating func decode(
        _ bytes: UnsafeRawBufferPointer, into body: inout ByteBuffer, maxBodyBytes: Int, maxLineBytes: Int
    ) -> (consumed: Int, outcome: Outcome) {
        var index = 0
        while index < bytes.count {
            if state == .data {
                let take = min(remaining, bytes.count - index)
                body.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
                index += take
                remaining -= take
                if remaining == 0 { state = .dataCR }
                continue
            }
            let byte = bytes[index]
            index += 1
            switch state {
            case .size:
                if let digit = Self.hexValue(byte) {
                    sizeDigits += 1
                    size = size * 16 + digit
                    // Past the limit already: no need to read further digits (nor to overflow).
                    if body.readableBytes + size > maxBodyBytes { return (index, .tooLarge) }
                } else if sizeDigits > 0 && (byte == UInt8(ascii: ";") || byte == 0x20 || byte == 0x09) {
                    state = .sizeExtension
                } else if sizeDigits > 0 && byte == UInt8(ascii: "\r") {
                    state = .sizeLF
                } else {
                    return (index, .malformed("invalid chunk size"))
                }
            case .sizeExtension:
                if byte == UInt8(ascii: "\r") {
                    state = .sizeLF
                } else if byte == UInt8(ascii: "\n") || (byte < 0x20 && byte != 0x09) || byte == 0x7F {
                    return (index, .malformed("invalid chunk extension"))
                } else {
                    lineBytes += 1
                    if lineBytes > maxLineBytes { return (index, .malformed("chunk extensions too long")) }
                }
            case .sizeLF:
                guard byte == UInt8(ascii: "\n") else { return (index, .malformed("chunk size line without LF")) }
                if size == 0 {
                    state = .trailerStart
                } else {
                    remaining = size
                    state = .data
                }
                size = 0
                sizeDigits = 0
            case .dataCR:
                guard byte == UInt8(ascii: "\r") else { return (index, .malformed("chunk data longer than its size")) }
                state = .dataLF
            case .dataLF:
                guard byte == UInt8(ascii: "\n") else { return (index, .malformed("chunk data not ended by CRLF")) }
                state = .size
            case .trailerStart:
                if byte == UInt8(ascii: "\r") {
                    state = .finalLF
                } else {
                    state = .trailerLine
                    index -= 1
                }
            case .trailerLine:
                if byte == UInt8(ascii: "\r") {
                    state = .trailerLF
                } else if byte == UInt8(ascii: "\n") || (byte < 0x20 && byte != 0x09) || byte == 0x7F {
                    return (index, .malformed("invalid trailer field"))
                } else {
                    lineBytes += 1
                    if lineBytes > maxLineBytes { return (index, .malformed("trailer fields too long")) }
                }
            case .trailerLF:
                guard byte == UInt8(ascii: "\n") else { return (index, .malformed("trailer line without LF")) }
                state = .trailerStart
            case .finalLF:
                guard byte == UInt8(ascii: "\n") else { return (index, .malformed("chunked body not ended by CRLF")) }
                state = .done
                return (index, .done)
            case .data, .done:
                return (index - 1, .done)
            }
        }
        return (index, state == .done ? .done : .needMore)
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - UInt8(ascii: "A")) + 10
        default: return nil
        }
    }
}
