import FibCore
import NIOCore
import Testing

@testable import FibServer

private func parse(_ text: String, maxDepth: Int = 64) throws(JSONParseError) -> JSONValue {
    try JSONParser.parse(Array(text.utf8), maxDepth: maxDepth)
}

private func parseError(_ bytes: [UInt8], maxDepth: Int = 64) -> JSONParseError? {
    do {
        _ = try JSONParser.parse(bytes, maxDepth: maxDepth)
        return nil
    } catch {
        return error
    }
}

private func parseError(_ text: String, maxDepth: Int = 64) -> JSONParseError? {
    parseError(Array(text.utf8), maxDepth: maxDepth)
}

private func encode(_ value: JSONValue) -> String {
    String(buffer: JSONWriter.encode(value, allocator: ByteBufferAllocator()))
}

@Suite("JSON")
struct JSONTests {
    @Test func parsesEveryKindOfValue() throws {
        let value = try parse(#" { "a" : [1, -2.5e3, true, false, null, "x"], "b": {}, "c": [] } "#)
        #expect(value["a"]?[0]?.intValue == 1)
        #expect(value["a"]?[1]?.doubleValue == -2500)
        #expect(value["a"]?[2] == true)
        #expect(value["a"]?[4]?.isNull == true)
        #expect(value["a"]?[5] == "x")
        #expect(value["b"] == .object([]))
        #expect(value["c"] == .array([]))
        #expect(value["missing"] == nil)
    }

    @Test func objectsKeepMemberOrderAndDuplicates() throws {
        let value = try parse(#"{"z": 1, "a": 2, "z": 3}"#)
        #expect(value.objectMembers?.map(\.0) == ["z", "a", "z"])
        #expect(value["z"]?.intValue == 1)
        #expect(encode(value) == #"{"z":1,"a":2,"z":3}"#)
    }

    @Test func roundTripsThroughTheWriter() throws {
        let texts = [
            #"{"n":40,"algorithm":"fast","priority":-3,"timeout":2.5,"ok":true,"none":null}"#,
            #"[[],{},[[[]]],"",0,-0,1e400,18446744073709551616]"#,
            #"["\"\\\/\b\f\n\r\t\u0000\u001f","é€𝄞"]"#,
        ]
        for text in texts {
            let value = try parse(text)
            #expect(try parse(encode(value)) == value)
        }
    }

    @Test func stringEscapesAndSurrogatePairs() throws {
        #expect(try parse(#""\"\\\/\b\f\n\r\t""#) == .string("\"\\/\u{8}\u{c}\n\r\t"))
        #expect(try parse(#""\u00e9\u20AC""#) == "é€")
        #expect(try parse(#""\ud834\udd1e""#) == "𝄞")
        #expect(try parse(#""a\u0000b""#) == .string("a\u{0}b"))
        #expect(try parse("\"é€𝄞\"") == "é€𝄞")
    }

    @Test func rejectsBadEscapesAndLoneSurrogates() {
        #expect(parseError(#""\x""#)?.reason == .invalidEscape)
        #expect(parseError(#""\u12G4""#)?.reason == .invalidEscape)
        #expect(parseError(#""\ud834""#)?.reason == .loneSurrogate)
        #expect(parseError(#""\ud834\u0041""#)?.reason == .loneSurrogate)
        #expect(parseError(#""\udd1e""#)?.reason == .loneSurrogate)
        #expect(parseError(#""ab\ud834x""#) == JSONParseError(.loneSurrogate, at: 3))
    }

    @Test func rejectsControlCharactersInStrings() {
        #expect(parseError("\"a\nb\"") == JSONParseError(.controlCharacterInString, at: 2))
        #expect(parseError("\"\t\"")?.reason == .controlCharacterInString)
    }

    @Test func rejectsInvalidUTF8WithItsOffset() {
        let cases: [[UInt8]] = [
            [0x22, 0xFF, 0x22],  // never valid
            [0x22, 0xC0, 0xAF, 0x22],  // overlong
            [0x22, 0xE0, 0x80, 0xAF, 0x22],  // overlong
            [0x22, 0xED, 0xA0, 0x80, 0x22],  // encoded surrogate
            [0x22, 0xF4, 0x90, 0x80, 0x80, 0x22],  // above U+10FFFF
            [0x22, 0xC3, 0x22],  // truncated sequence
            [0x22, 0x80, 0x22],  // lone continuation
        ]
        for bytes in cases {
            #expect(parseError(bytes) == JSONParseError(.invalidUTF8, at: 1), "\(bytes)")
        }
        #expect(parseError([0x22, 0x61, 0xE2, 0x82]) == JSONParseError(.invalidUTF8, at: 2))
        #expect(parseError([0xEF, 0xBB, 0xBF, 0x31]) == JSONParseError(.unexpectedByte(0xEF), at: 0))
    }

    @Test func numbersFollowTheGrammarExactly() throws {
        for valid in ["0", "-0", "1", "-1", "10", "0.5", "-0.0", "1e5", "1E+5", "1e-5", "123.456e-7"] {
            #expect(try parse(valid) == .number(JSONNumber(validatedText: valid)))
        }
        let invalid: [(String, JSONParseError)] = [
            ("01", JSONParseError(.invalidNumber, at: 1)),
            ("-01", JSONParseError(.invalidNumber, at: 2)),
            ("1.", JSONParseError(.unexpectedEnd, at: 2)),
            (".5", JSONParseError(.unexpectedByte(UInt8(ascii: ".")), at: 0)),
            ("1.e5", JSONParseError(.invalidNumber, at: 2)),
            ("1e", JSONParseError(.unexpectedEnd, at: 2)),
            ("1e+", JSONParseError(.unexpectedEnd, at: 3)),
            ("+1", JSONParseError(.unexpectedByte(UInt8(ascii: "+")), at: 0)),
            ("-", JSONParseError(.unexpectedEnd, at: 1)),
            ("-a", JSONParseError(.invalidNumber, at: 1)),
            ("NaN", JSONParseError(.unexpectedByte(UInt8(ascii: "N")), at: 0)),
            ("Infinity", JSONParseError(.unexpectedByte(UInt8(ascii: "I")), at: 0)),
            ("0x10", JSONParseError(.trailingData, at: 1)),
        ]
        for (text, error) in invalid {
            #expect(parseError(text) == error, "\(text)")
        }
    }

    @Test func integersAreExactAtTheEdges() throws {
        #expect(try parse("18446744073709551615").numberValue?.uint64 == UInt64.max)
        #expect(try parse("18446744073709551615").intValue == nil)
        #expect(try parse("18446744073709551616").numberValue?.uint64 == nil)
        #expect(try parse("18446744073709551616").numberValue?.double == 18446744073709551616.0)
        #expect(try parse("9223372036854775807").intValue == Int.max)
        #expect(try parse("-9223372036854775808").intValue == Int.min)
        #expect(try parse("-9223372036854775809").intValue == nil)
        #expect(try parse("9007199254740993").intValue == 9_007_199_254_740_993)
        #expect(try parse("-0").intValue == 0)
        #expect(try parse("-0").numberValue?.uint64 == 0)
        #expect(try parse("-1").numberValue?.uint64 == nil)
        #expect(try parse("1.0").intValue == 1)
        #expect(try parse("1.5").intValue == nil)
        #expect(try parse("1e3").intValue == 1000)
        #expect(try parse("12.50e1").intValue == 125)
        #expect(try parse("1e-3").intValue == nil)
        #expect(try parse("0e999999999").intValue == 0)
    }

    @Test func hugeExponentsParseButAreNotIntegers() throws {
        let big = try parse("1e400")
        #expect(big.numberValue?.text == "1e400")
        #expect(big.intValue == nil)
        #expect(big.numberValue?.uint64 == nil)
        #expect(big.numberValue?.double == nil)
        #expect(try parse("1e-400").doubleValue == 0)
        #expect(try parse("1e99999999999999999999").intValue == nil)
        #expect(encode(big) == "1e400")
    }

    @Test func depthLimit() throws {
        let nested64 = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(throws: Never.self) { try parse(nested64) }
        let nested65 = String(repeating: "[", count: 65) + String(repeating: "]", count: 65)
        #expect(parseError(nested65) == JSONParseError(.tooDeep(limit: 64), at: 64))
        #expect(parseError(#"{"a":{"b":[1]}}"#, maxDepth: 2)?.reason == .tooDeep(limit: 2))
        // Far beyond the limit fails fast instead of exhausting the stack.
        #expect(parseError(String(repeating: "[", count: 100_000))?.reason == .tooDeep(limit: 64))
    }

    @Test func truncatedInputSaysWhere() {
        let cases: [(String, Int)] = [
            ("", 0), ("[", 1), ("[1", 2), ("[1,", 3), (#"{"a""#, 4), (#"{"a":"#, 5), (#""abc"#, 4), ("tru", 3),
            (#""\u12"#, 5), (#""\"#, 2),
        ]
        for (text, offset) in cases {
            #expect(parseError(text) == JSONParseError(.unexpectedEnd, at: offset), "\(text)")
        }
    }

    @Test func rejectsTrailingGarbageCommentsAndTrailingCommas() {
        #expect(parseError("1 2") == JSONParseError(.trailingData, at: 2))
        #expect(parseError("{} x") == JSONParseError(.trailingData, at: 3))
        #expect(parseError("[1,]") == JSONParseError(.unexpectedByte(UInt8(ascii: "]")), at: 3))
        #expect(parseError(#"{"a":1,}"#) == JSONParseError(.unexpectedByte(UInt8(ascii: "}")), at: 7))
        #expect(parseError("// c\n1")?.reason == .unexpectedByte(UInt8(ascii: "/")))
        #expect(parseError("[1 /* c */]")?.reason == .unexpectedByte(UInt8(ascii: "/")))
        #expect(parseError("{a:1}") == JSONParseError(.unexpectedByte(UInt8(ascii: "a")), at: 1))
        #expect(parseError("['a']")?.reason == .unexpectedByte(UInt8(ascii: "'")))
        #expect(parseError("nul") == JSONParseError(.unexpectedEnd, at: 3))
        #expect(parseError("nulL") == JSONParseError(.invalidLiteral, at: 3))
        #expect(parseError("[1]\u{0}")?.reason == .trailingData)
    }

    @Test func errorMessagesNameTheProblemAndOffset() {
        #expect(parseError("[1,]")?.description == "unexpected character ']' at byte 3")
        #expect(parseError("\"\u{1}\"")?.description == "unescaped control character in string at byte 1")
    }

    @Test func hugeStringsAndArrays() throws {
        let long = String(repeating: "0123456789", count: 200_000)
        let value = try parse("\"\(long)\"")
        #expect(value.stringValue?.utf8.count == 2_000_000)
        let escaped = String(repeating: "a\\n", count: 100_000)
        #expect(try parse("\"\(escaped)\"").stringValue?.utf8.count == 200_000)
        let array = "[" + Array(repeating: "1", count: 100_000).joined(separator: ",") + "]"
        #expect(try parse(array).arrayValue?.count == 100_000)
    }

    @Test func parsesFromByteBufferAndString() throws {
        var buffer = ByteBufferAllocator().buffer(capacity: 16)
        buffer.writeString("xx{\"a\":1}")
        buffer.moveReaderIndex(forwardBy: 2)
        #expect(try JSONParser.parse(buffer) == ["a": 1])
        #expect(try JSONParser.parse("[true]") == [true])
    }

    @Test func writerEscapesAndFormatsValues() {
        var writer = JSONWriter(allocator: ByteBufferAllocator())
        writer.beginObject()
        writer.member("s", "q\"b\\n\n\u{1}\u{1f}é")
        writer.member("i", -42)
        writer.key("u")
        writer.uint(UInt64.max)
        writer.member("min", Int.min)
        writer.member("d", 0.1)
        writer.member("e", 1e300)
        writer.member("nan", Double.nan)
        writer.member("inf", -Double.infinity)
        writer.member("whole", 2.0)
        writer.member("t", true)
        writer.key("n")
        writer.null()
        writer.key("raw")
        writer.rawValue(Array("12345".utf8))
        writer.key("digits")
        writer.rawString(ByteBuffer(string: "354224848179261915075"))
        writer.key("list")
        writer.beginArray()
        writer.int(1)
        writer.beginObject()
        writer.endObject()
        writer.string("x"[...])
        writer.endArray()
        writer.endObject()
        let text = String(buffer: writer.buffer)
        #expect(
            text
                == #"{"s":"q\"b\\n\n\u0001\u001fé","i":-42,"u":18446744073709551615,"min":-9223372036854775808,"#
                + #""d":0.1,"e":1e+300,"nan":null,"inf":null,"whole":2.0,"t":true,"n":null,"raw":12345,"#
                + #""digits":"354224848179261915075","list":[1,{},"x"]}"#
        )
        #expect(throws: Never.self) { try JSONParser.parse(text) }
    }

    @Test func doublesRoundTripExactly() throws {
        for value in [
            0.1, 1.0 / 3.0, Double.leastNonzeroMagnitude, 1.7976931348623157e308, -123.456, 1e21, 123456789012345680.0,
        ] {
            var writer = JSONWriter(allocator: ByteBufferAllocator())
            writer.double(value)
            #expect(try JSONParser.parse(writer.buffer).doubleValue == value)
        }
    }
}

@Test func rfc3339WritesUTCWithMilliseconds() {
    #expect(rfc3339(0) == "1970-01-01T00:00:00.000Z")
    #expect(rfc3339(1_795_645_658_123_456_789) == "2026-11-25T22:27:38.123Z")
    #expect(rfc3339(951_782_400_000_000_000) == "2000-02-29T00:00:00.000Z")
    #expect(rfc3339(-1_000_000) == "1969-12-31T23:59:59.999Z")
}

/// Timestamps, task ids and keys written straight into the buffer read as the `String` forms do.
@Test func writerTimestampsIDsAndKeysMatchTheirStringForms() throws {
    let times: [Int64] = [0, -1_000_000, 1_795_645_658_123_456_789, 951_782_400_000_000_000, .max, .min]
    let ids: [UInt64] = [0, 1, 0xabc, 0x0123_4567_89ab_cdef, .max]
    var writer = JSONWriter(allocator: ByteBufferAllocator())
    writer.beginObject()
    writer.key("times")
    writer.beginArray()
    for time in times { writer.timestamp(time) }
    writer.endArray()
    writer.key("ids")
    writer.beginArray()
    for id in ids { writer.taskID(TaskID(rawValue: id)) }
    writer.endArray()
    writer.key("digits")
    writer.digitString(Array("12345".utf8))
    writer.endObject()
    let value = try JSONParser.parse(writer.buffer)
    #expect(value["times"] == .array(times.map { .string(rfc3339($0)) }))
    #expect(value["ids"] == .array(ids.map { .string(TaskID(rawValue: $0).description) }))
    #expect(value["digits"] == .string("12345"))
    #expect(APIResponder.location(of: TaskID(rawValue: 0xabc)) == "/api/v1/tasks/0000000000000abc")
}
