import NIOCore

/// Writes compact JSON straight into a `ByteBuffer`, inserting commas itself, so that responses
/// are built without intermediate strings or dictionaries.
///
/// Call `key(_:)` before each value inside an object. The writer does not check that calls are
/// balanced; callers own the shape.
public struct JSONWriter {
    public var buffer: ByteBuffer
    private var needsComma = false

    public init(buffer: ByteBuffer) {
        self.buffer = buffer
    }

    public init(allocator: ByteBufferAllocator, capacity: Int = 256) {
        self.buffer = allocator.buffer(capacity: capacity)
    }

    private mutating func separate() {
        if needsComma { buffer.writeInteger(UInt8(ascii: ",")) }
    }

    public mutating func beginObject() {
        separate()
        buffer.writeInteger(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endObject() {
        buffer.writeInteger(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func beginArray() {
        separate()
        buffer.writeInteger(UInt8(ascii: "["))
        needsComma = false
    }

    public mutating func endArray() {
        buffer.writeInteger(UInt8(ascii: "]"))
        needsComma = true
    }

    /// Writes an object member's name and the colon; the next call writes its value. (Disfavoured, so that a
    /// literal name takes the `StaticString` form, which need not scan for escapes.)
    @_disfavoredOverload
    public mutating func key(_ name: String) {
        separate()
        writeQuoted(name)
        buffer.writeInteger(UInt8(ascii: ":"))
        needsComma = false
    }

    /// Writes an object member's name known at compile time to need no escaping.
    public mutating func key(_ name: StaticString) {
        // One write for the comma, the quoted name and the colon: every member of every answer has one.
        let nameLength = name.utf8CodeUnitCount
        let commaLength = needsComma ? 1 : 0
        let length = commaLength + nameLength + 3
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { bytes in
            if commaLength == 1 { bytes[0] = UInt8(ascii: ",") }
            bytes[commaLength] = UInt8(ascii: "\"")
            UnsafeMutableRawBufferPointer(rebasing: bytes[(commaLength + 1)...]).copyMemory(
                from: UnsafeRawBufferPointer(start: name.utf8Start, count: nameLength))
            bytes[length - 2] = UInt8(ascii: "\"")
            bytes[length - 1] = UInt8(ascii: ":")
            return length
        }
        needsComma = false
    }

    public mutating func string(_ value: String) {
        separate()
        writeQuoted(value)
        needsComma = true
    }

    public mutating func string(_ value: Substring) {
        separate()
        var value = value
        value.withUTF8 { writeEscaped($0) }
        needsComma = true
    }

    public mutating func int(_ value: Int) {
        separate()
        if value < 0 {
            buffer.writeInteger(UInt8(ascii: "-"))
            writeDecimal(UInt64(value.magnitude))
        } else {
            writeDecimal(UInt64(value))
        }
        needsComma = true
    }

    public mutating func uint(_ value: UInt64) {
        separate()
        writeDecimal(value)
        needsComma = true
    }

    /// Writes the shortest text that reads back as the same `Double`; NaN and infinities,
    /// which JSON cannot carry, are written as `null`.
    public mutating func double(_ value: Double) {
        separate()
        if value.isFinite {
            buffer.writeString(value.description)
        } else {
            buffer.writeStaticString("null")
        }
        needsComma = true
    }

    public mutating func bool(_ value: Bool) {
        separate()
        buffer.writeStaticString(value ? "true" : "false")
        needsComma = true
    }

    public mutating func null() {
        separate()
        buffer.writeStaticString("null")
        needsComma = true
    }

    public mutating func number(_ value: JSONNumber) {
        separate()
        buffer.writeString(value.text)
        needsComma = true
    }

    /// Writes bytes that already are one JSON value (for example a long run of ASCII digits)
    /// without checking or escaping them.
    public mutating func rawValue(_ bytes: ByteBuffer) {
        separate()
        var bytes = bytes
        buffer.writeBuffer(&bytes)
        needsComma = true
    }

    /// Writes bytes that already are one JSON value without checking or escaping them.
    public mutating func rawValue(_ bytes: some Collection<UInt8>) {
        separate()
        buffer.writeBytes(bytes)
        needsComma = true
    }

    /// Writes a string whose content needs no escaping (ASCII digits, identifiers) in quotes,
    /// copying the bytes once, straight from their buffer.
    public mutating func rawString(_ asciiBytes: ByteBuffer) {
        separate()
        var bytes = asciiBytes
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeBuffer(&bytes)
        buffer.writeInteger(UInt8(ascii: "\""))
        needsComma = true
    }

    /// Writes a string of `count` ASCII bytes that need no escaping (hex digits, timestamps), which `fill`
    /// writes straight into the buffer: no intermediate `String`.
    public mutating func asciiString(count: Int, _ fill: (UnsafeMutableRawBufferPointer) -> Void) {
        separate()
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { bytes in
            fill(UnsafeMutableRawBufferPointer(rebasing: bytes[..<count]))
            return count
        }
        buffer.writeInteger(UInt8(ascii: "\""))
        needsComma = true
    }

    /// Writes a run of bytes that need no escaping (ASCII digits) as a JSON string.
    public mutating func asciiString(_ bytes: [UInt8]) {
        separate()
        buffer.reserveCapacity(minimumWritableBytes: bytes.count + 2)
        buffer.writeInteger(UInt8(ascii: "\""))
        buffer.writeBytes(bytes)
        buffer.writeInteger(UInt8(ascii: "\""))
        needsComma = true
    }

    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let flag): bool(flag)
        case .number(let number): self.number(number)
        case .string(let text): string(text)
        case .array(let elements):
            beginArray()
            for element in elements { self.value(element) }
            endArray()
        case .object(let members):
            beginObject()
            for (name, member) in members {
                key(name)
                self.value(member)
            }
            endObject()
        }
    }

    /// `key(name)` then the value: a shorthand for the common object member.
    public mutating func member(_ name: StaticString, _ value: String) {
        key(name)
        string(value)
    }

    public mutating func member(_ name: StaticString, _ value: Int) {
        key(name)
        int(value)
    }

    public mutating func member(_ name: StaticString, _ value: Bool) {
        key(name)
        bool(value)
    }

    public mutating func member(_ name: StaticString, _ value: Double) {
        key(name)
        double(value)
    }

    public mutating func member(_ name: StaticString, _ value: JSONValue) {
        key(name)
        self.value(value)
    }

    /// The compact JSON text of `value` in a new buffer.
    public static func encode(_ value: JSONValue, allocator: ByteBufferAllocator) -> ByteBuffer {
        var writer = JSONWriter(allocator: allocator)
        writer.value(value)
        return writer.buffer
    }

    private mutating func writeQuoted(_ text: String) {
        var text = text
        text.withUTF8 { writeEscaped($0) }
    }

    /// Writes `"…"`, copying runs of bytes that need no escape in one go. Swift strings are
    /// valid UTF-8, so non-ASCII bytes pass through unchanged.
    private mutating func writeEscaped(_ utf8: UnsafeBufferPointer<UInt8>) {
        buffer.writeInteger(UInt8(ascii: "\""))
        var runStart = 0
        for index in 0..<utf8.count {
            let byte = utf8[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else {
                continue
            }
            if runStart < index {
                buffer.writeBytes(UnsafeBufferPointer(rebasing: utf8[runStart..<index]))
            }
            runStart = index + 1
            switch byte {
            case UInt8(ascii: "\""): buffer.writeStaticString("\\\"")
            case UInt8(ascii: "\\"): buffer.writeStaticString("\\\\")
            case 0x0A: buffer.writeStaticString("\\n")
            case 0x0D: buffer.writeStaticString("\\r")
            case 0x09: buffer.writeStaticString("\\t")
            case 0x08: buffer.writeStaticString("\\b")
            case 0x0C: buffer.writeStaticString("\\f")
            default:
                let hex: StaticString = "0123456789abcdef"
                buffer.writeStaticString("\\u00")
                buffer.writeInteger(hex.utf8Start[Int(byte >> 4)])
                buffer.writeInteger(hex.utf8Start[Int(byte & 0x0F)])
            }
        }
        if runStart < utf8.count { buffer.writeBytes(UnsafeBufferPointer(rebasing: utf8[runStart...])) }
        buffer.writeInteger(UInt8(ascii: "\""))
    }

    private mutating func writeDecimal(_ value: UInt64) {
        // 20 digits hold UInt64.max.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var remaining = value
            var start = 20
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
            } while remaining != 0
            buffer.writeBytes(UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }
}
