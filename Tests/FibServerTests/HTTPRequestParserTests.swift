import NIOCore
import NIOHTTP1
import Testing

@testable import FibServer

/// Parses `bytes` from an allocation of exactly their size, so that a read past the end would
/// trap (buffer pointer subscripts are checked in debug builds).
private func parse(_ bytes: [UInt8], scanned: inout Int, limit: Int = 1024) -> HeadParseResult {
    let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
    defer { copy.deallocate() }
    copy.copyBytes(from: bytes)
    return HTTPRequestParser.parseHead(UnsafeRawBufferPointer(copy), scanned: &scanned, maxHeadBytes: limit)
}

private func parse(_ text: String, limit: Int = 1024) -> HeadParseResult {
    var scanned = 0
    return parse(Array(text.utf8), scanned: &scanned, limit: limit)
}

private func head(_ text: String, limit: Int = 1024) -> (ParsedRequestHead, Int)? {
    if case .head(let head, let length) = parse(text, limit: limit) { return (head, length) }
    return nil
}

private func isMalformed(_ result: HeadParseResult) -> Bool {
    if case .malformed = result { return true }
    return false
}

private func isIncomplete(_ result: HeadParseResult) -> Bool {
    if case .incomplete = result { return true }
    return false
}

private func isTooLarge(_ result: HeadParseResult) -> Bool {
    if case .tooLarge = result { return true }
    return false
}

/// Decodes a chunked body fed in the given pieces; returns the body, the outcome and the bytes
/// consumed in all.
private func decodeChunked(_ pieces: [[UInt8]], maxBody: Int = 1 << 20, maxLine: Int = 256) -> (
    body: [UInt8], outcome: ChunkedBodyDecoder.Outcome, consumed: Int
) {
    var decoder = ChunkedBodyDecoder()
    var body = ByteBuffer()
    var consumed = 0
    var outcome = ChunkedBodyDecoder.Outcome.needMore
    for piece in pieces {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: piece.count, alignment: 1)
        defer { copy.deallocate() }
        copy.copyBytes(from: piece)
        let (used, result) = decoder.decode(
            UnsafeRawBufferPointer(copy), into: &body, maxBodyBytes: maxBody, maxLineBytes: maxLine)
        #expect(used <= piece.count)
        #expect(body.readableBytes <= maxBody)
        consumed += used
        outcome = result
        if result != .needMore { break }
    }
    return (Array(body.readableBytesView), outcome, consumed)
}

/// A small deterministic generator, so that a failing fuzz case can be replayed.
private struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("HTTP request parser")
struct HTTPRequestParserTests {
    @Test func parsesARequestHead() throws {
        let text = "GET /api/v1/tasks/abc?wait=60s HTTP/1.1\r\nHost: x\r\nX-Spaced:   padded value \t\r\n\r\nrest"
        let (parsed, length) = try #require(head(text))
        #expect(length == text.utf8.count - 4)
        #expect(parsed.method == .GET)
        #expect(parsed.uri == "/api/v1/tasks/abc?wait=60s")
        #expect(parsed.version == .http1_1)
        #expect(parsed.headers["host"] == ["x"])
        #expect(parsed.headers["x-spaced"] == ["padded value"])
        #expect(parsed.framing == .none)
        #expect(parsed.keepAlive)
        #expect(!parsed.expectsContinue)
        #expect(parsed.coding == .identity)
    }

    @Test func bodyFramingAndExpectations() throws {
        let post = try #require(
            head("POST /t HTTP/1.1\r\nContent-Length: 12\r\nExpect: 100-Continue\r\n\r\n"))
        #expect(post.0.framing == .length(12))
        #expect(post.0.expectsContinue)
        #expect(try #require(head("POST /t HTTP/1.1\r\nContent-Length: 0\r\n\r\n")).0.framing == .none)
        #expect(
            try #require(head("POST /t HTTP/1.1\r\nContent-Length: 7\r\ncontent-length: 7\r\n\r\n")).0.framing
                == .length(7))
        #expect(try #require(head("POST /t HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n")).0.framing == .chunked)
        #expect(try #require(head("PATCH /t HTTP/1.1\r\n\r\n")).0.method == .PATCH)
        #expect(try #require(head("BREW /pot HTTP/1.1\r\n\r\n")).0.method == .RAW(value: "BREW"))
    }

    @Test func keepAliveFollowsTheVersionAndConnectionOptions() throws {
        let cases: [(String, Bool)] = [
            ("GET / HTTP/1.1\r\n\r\n", true),
            ("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false),
            ("GET / HTTP/1.1\r\nConnection: Keep-Alive, Close\r\n\r\n", false),
            ("GET / HTTP/1.0\r\n\r\n", false),
            ("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true),
            ("GET / HTTP/1.0\r\nConnection: upgrade , keep-alive\r\n\r\n", true),
        ]
        for (text, keepAlive) in cases {
            #expect(try #require(head(text)).0.keepAlive == keepAlive, "\(text)")
        }
        #expect(try #require(head("GET / HTTP/1.0\r\n\r\n")).0.version == .http1_0)
    }

    @Test func acceptEncodingChoosesAsNIOsCompressorDid() throws {
        let cases: [(String, ResponseCoding)] = [
            ("gzip", .gzip), ("x-gzip", .gzip), ("deflate", .deflate), ("gzip, deflate", .deflate),
            ("gzip;q=0.5, deflate;q=0.4", .gzip), ("gzip;q=0", .identity), ("identity", .identity),
            ("*", .gzip), ("*;q=0", .identity), ("br, gzip ; q=1", .gzip), ("gzip;q", .identity),
            ("gzip;q=2", .identity), ("", .identity),
        ]
        for (value, coding) in cases {
            #expect(ResponseCoding.chosen(acceptEncoding: value[...]) == coding, "\(value)")
        }
        #expect(try #require(head("GET / HTTP/1.1\r\nAccept-Encoding: gzip\r\n\r\n")).0.coding == .gzip)
    }

    @Test func emptyLinesBeforeTheRequestLineAreSkipped() throws {
        let (parsed, length) = try #require(head("\r\n\r\nGET /x HTTP/1.1\r\n\r\n"))
        #expect(parsed.uri == "/x")
        #expect(length == 4 + "GET /x HTTP/1.1\r\n\r\n".utf8.count)
    }

    @Test func everySplitOfAHeadIsIncompleteUntilItsLastByte() throws {
        let requests = [
            "GET /a HTTP/1.1\r\nHost: x\r\n\r\n",
            "POST /api/v1/tasks?wait=10s HTTP/1.1\r\nHost: 127.0.0.1:8787\r\nContent-Length: 8\r\n\r\n",
            "\r\nGET / HTTP/1.0\r\nA: \r\n\r\n",
            "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n",  // a bare CR in a value: malformed once complete
        ]
        for text in requests {
            let bytes = Array(text.utf8)
            let whole = parse(text)
            // Byte by byte, resuming the search where it stopped.
            var scanned = 0
            for end in 0..<bytes.count {
                let partial = parse(Array(bytes[0..<end]), scanned: &scanned)
                #expect(isIncomplete(partial), "\(text.debugDescription) cut at \(end)")
            }
            let last = parse(bytes, scanned: &scanned)
            switch (whole, last) {
            case (.head(let a, let lengthA), .head(let b, let lengthB)):
                #expect(lengthA == bytes.count && lengthB == bytes.count)
                #expect(a.uri == b.uri && a.headers == b.headers && a.framing == b.framing)
            case (.malformed, .malformed):
                break
            default:
                Issue.record("\(text.debugDescription): \(whole) whole, \(last) byte by byte")
            }
            // In two pieces, searching afresh each time.
            for cut in 0..<bytes.count {
                var fresh = 0
                #expect(isIncomplete(parse(Array(bytes[0..<cut]), scanned: &fresh)))
                if case .head = whole {
                    #expect(!isIncomplete(parse(bytes, scanned: &fresh)))
                }
            }
        }
    }

    @Test func headLimitCountsEveryByteOfTheHead() {
        let limit = 100
        let framing = "GET / HTTP/1.1\r\nX: \r\n\r\n".utf8.count
        let atLimit = "GET / HTTP/1.1\r\nX: " + String(repeating: "v", count: limit - framing) + "\r\n\r\n"
        #expect(atLimit.utf8.count == limit)
        #expect(head(atLimit, limit: limit) != nil)
        let over = "GET / HTTP/1.1\r\nX: v" + String(repeating: "v", count: limit - framing) + "\r\n\r\n"
        #expect(isTooLarge(parse(over, limit: limit)))
        // An unfinished head is refused as soon as it passes the limit, and not before.
        let endless = "GET / HTTP/1.1\r\nX: " + String(repeating: "v", count: 200)
        #expect(isTooLarge(parse(endless, limit: limit)))
        var scanned = 0
        #expect(isIncomplete(parse(Array(endless.utf8.prefix(limit)), scanned: &scanned, limit: limit)))
        // A long target counts too.
        #expect(isTooLarge(parse("GET /" + String(repeating: "p", count: 200) + " HTTP/1.1\r\n\r\n", limit: limit)))
        // So do empty lines before the request line.
        #expect(isTooLarge(parse(String(repeating: "\r\n", count: 60), limit: limit)))
    }

    @Test func malformedHeadsAreRefused() {
        let cases = [
            "THIS IS NOT HTTP\r\n\r\n",
            "GET / HTTP/1.1\nHost: x\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\n\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
            "GET / HTTP/1.1\r\nHost : x\r\n\r\n",
            "GET / HTTP/1.1\r\n: x\r\n\r\n",
            "GET / HTTP/1.1\r\nno colon\r\n\r\n",
            "GET / HTTP/1.1\r\nX: a\u{0}b\r\n\r\n",
            "GET / HTTP/1.1\r\nX: a\u{7F}\r\n\r\n",
            "GET / HTTP/1.1\r\nX(y): a\r\n\r\n",
            "GET / HTTP/2.0\r\n\r\n",
            "GET / HTTP/1.2\r\n\r\n",
            "GET / http/1.1\r\n\r\n",
            "GET /  HTTP/1.1\r\n\r\n",
            "GET /\u{0} HTTP/1.1\r\n\r\n",
            "GET /é HTTP/1.1\r\n\r\n",
            "GET /a\tb HTTP/1.1\r\n\r\n",
            "GET HTTP/1.1\r\n\r\n",
            " GET / HTTP/1.1\r\n\r\n",
            "G\u{1}T / HTTP/1.1\r\n\r\n",
            "GET / HTTP/1.1 extra\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 9999999999999999999\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        ]
        for text in cases {
            #expect(isMalformed(parse(text)), "\(text.debugDescription)")
        }
    }

    @Test func somethingThatIsNotHTTPIsRefusedBeforeItsHeadEnds() {
        var scanned = 0
        #expect(isMalformed(parse([0x16, 0x03, 0x01, 0x02, 0x00], scanned: &scanned)))
        #expect(isMalformed(parse(" GET", scanned: 0)))
        #expect(isIncomplete(parse("GET /partial", scanned: 0)))
        #expect(isIncomplete(parse("", scanned: 0)))
    }

    @Test func randomBytesNeverCrashTheParser() {
        var random = SplitMix64(state: 42)
        let valid = Array("POST /api/v1/tasks?x=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n".utf8)
        let alphabet = Array("GET /: \r\n\t\0HTTP/1.1-Content-Length0123456789chunked\u{7F}\u{80}".utf8)
        for round in 0..<3000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = valid
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    let index = Int.random(in: 0..<bytes.count, using: &random)
                    switch Int.random(in: 0..<3, using: &random) {
                    case 0: bytes[index] = alphabet.randomElement(using: &random) ?? 0
                    case 1: bytes.remove(at: index)
                    default: bytes.insert(alphabet.randomElement(using: &random) ?? 0, at: index)
                    }
                }
            } else {
                bytes = (0..<Int.random(in: 0...120, using: &random)).map { _ in
                    alphabet.randomElement(using: &random) ?? 0
                }
            }
            var scanned = 0
            switch parse(bytes, scanned: &scanned, limit: 64) {
            case .head(_, let length): #expect(length <= bytes.count)
            case .incomplete: #expect(bytes.count <= 2 * 64)
            case .tooLarge, .malformed: break
            }
            #expect(scanned <= bytes.count)
        }
    }

    // MARK: Chunked bodies

    @Test func decodesChunkedBodiesInEverySplit() {
        let encoded = Array("3;name=value\r\nabc\r\nA \r\n0123456789\r\n0\r\nTrailer: t\r\n\r\nNEXT".utf8)
        let end = encoded.count - 4
        let whole = decodeChunked([encoded])
        #expect(whole.outcome == .done)
        #expect(whole.body == Array("abc0123456789".utf8))
        #expect(whole.consumed == end)
        for cut in 0...encoded.count {
            let split = decodeChunked([Array(encoded[0..<cut]), Array(encoded[cut...])])
            #expect(split.outcome == .done && split.body == whole.body && split.consumed == end, "cut at \(cut)")
        }
        let byteByByte = decodeChunked(encoded.map { [$0] })
        #expect(byteByByte.outcome == .done && byteByByte.body == whole.body && byteByByte.consumed == end)
        #expect(decodeChunked([Array("0\r\n\r\n".utf8)]).outcome == .done)
    }

    @Test func chunkedBodyLimits() {
        let chunk = "258\r\n" + String(repeating: "y", count: 600) + "\r\n"
        let over = decodeChunked([Array(("\(chunk)\(chunk)0\r\n\r\n").utf8)], maxBody: 1000)
        #expect(over.outcome == .tooLarge)
        #expect(over.body.count == 600)
        let atLimit = decodeChunked(
            [Array("3E8\r\n\(String(repeating: "z", count: 1000))\r\n0\r\n\r\n".utf8)], maxBody: 1000)
        #expect(atLimit.outcome == .done && atLimit.body.count == 1000)
        // A huge size is refused at the digit that passes the limit, without overflow.
        #expect(decodeChunked([Array("FFFFFFFFFFFFFFFFFFFFFFFF\r\n".utf8)], maxBody: 1000).outcome == .tooLarge)
        let longExtension = "1;" + String(repeating: "e", count: 300) + "\r\na\r\n0\r\n\r\n"
        #expect(isMalformedOutcome(decodeChunked([Array(longExtension.utf8)], maxLine: 256).outcome))
        let longTrailer = "0\r\n" + String(repeating: "T: v\r\n", count: 100) + "\r\n"
        #expect(isMalformedOutcome(decodeChunked([Array(longTrailer.utf8)], maxLine: 256).outcome))
    }

    @Test func malformedChunkedBodies() {
        let cases = [
            "x\r\n", "\r\n", ";ext\r\n", "3\nabc\r\n", "3\r\nabcd\r\n", "3\r\nabc\n", "3\r\nabc\r\r",
            "3;a\u{0}b\r\n", "0\r\nT: v\n", "0\r\n\rx", "-3\r\nabc\r\n",
        ]
        for text in cases {
            #expect(isMalformedOutcome(decodeChunked([Array(text.utf8)]).outcome), "\(text.debugDescription)")
        }
    }

    @Test func randomBytesNeverCrashTheChunkedDecoder() {
        var random = SplitMix64(state: 7)
        let alphabet = Array("0123456789abcdefABCDEFxyz;= \t\r\n\0".utf8)
        for _ in 0..<3000 {
            let bytes = (0..<Int.random(in: 0...80, using: &random)).map { _ in
                alphabet.randomElement(using: &random) ?? 0
            }
            let cut = Int.random(in: 0...bytes.count, using: &random)
            let result = decodeChunked([Array(bytes[0..<cut]), Array(bytes[cut...])], maxBody: 64, maxLine: 16)
            #expect(result.consumed <= bytes.count)
            #expect(result.body.count <= 64)
        }
    }
}

private func parse(_ text: String, scanned: Int) -> HeadParseResult {
    var scanned = scanned
    return parse(Array(text.utf8), scanned: &scanned)
}

private func isMalformedOutcome(_ outcome: ChunkedBodyDecoder.Outcome) -> Bool {
    if case .malformed = outcome { return true }
    return false
}
