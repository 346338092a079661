import NIOCore

/// One file of the pages, ready to send: its bytes, its type, its ETag, and (built-in copies) its gzip form.
struct PageAsset: Sendable {
    var contentType: String
    var body: ByteBuffer
    var etag: String
    var gzipped: ByteBuffer?
    var gzipETag: String

    init(name: String, body: ByteBuffer, etag: String, gzipped: ByteBuffer? = nil) {
        self.contentType = Self.contentType(of: name)
        self.body = body
        self.etag = etag
        self.gzipped = gzipped
        // A different representation needs a different tag.
        self.gzipETag = etag.hasSuffix("\"") ? String(etag.dropLast()) + "-gzip\"" : etag
    }

    /// A built-in copy from its base64 text (base64 keeps the generated source plain ASCII and exact).
    init(name: String, etag: String, base64 body: StaticString, gzipBase64 gzipped: StaticString) {
        self.init(
            name: name, body: ByteBuffer(bytes: Base64.decode(body)), etag: etag,
            gzipped: ByteBuffer(bytes: Base64.decode(gzipped)))
    }

    static func contentType(of name: String) -> String {
        let suffix = name.split(separator: ".").last.map { $0.lowercased() } ?? ""
        switch suffix {
        case "html": return "text/html; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "js", "mjs": return "text/javascript; charset=utf-8"
        case "json": return "application/json"
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        case "ico": return "image/x-icon"
        case "txt": return "text/plain; charset=utf-8"
        default: return "application/octet-stream"
        }
    }
}

/// Decodes standard base64 (RFC 4648, with padding); characters outside the alphabet are skipped.
enum Base64 {
    static func decode(_ text: StaticString) -> [UInt8] {
        text.withUTF8Buffer { decode($0) }
    }

    static func decode(_ text: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(text.count / 4 * 3)
        var accumulator: UInt32 = 0
        var bits = 0
        for byte in text {
            let value: UInt32
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(byte - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(byte - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(byte - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "/"): value = 63
            default: continue
            }
            accumulator = (accumulator << 6) | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
            }
        }
        return output
    }
}
