import NIOCore
import NIOHTTP1

#if canImport(Glibc)
    import Glibc
#endif

/// Serves the pages: `/` (the app), `/status` (every view), `/status/<view>` (one view, made for an iframe),
/// `/status/index.json`, `/favicon.ico` and the files under `/static/`. They come from the copies compiled
/// into the binary (``EmbeddedAssets``), or, for development, from a directory read on every request.
///
/// Every page answer carries an ETag (If-None-Match gives 304), `Cache-Control: no-cache` (revalidate, so a
/// new binary's pages are seen at once) and the security headers: a Content-Security-Policy that allows no
/// inline script and no other host, `frame-ancestors 'self'`, and `X-Content-Type-Options: nosniff`.
public struct PageServer: Sendable {
    /// Where the files come from: nil for the built-in copies.
    public let directory: String?

    public init(directory: String? = nil) {
        self.directory = directory.flatMap { $0.isEmpty ? nil : $0 }
    }

    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "frame-src 'self'; frame-ancestors 'self'; base-uri 'none'; form-action 'none'"

    /// The answer for a page path, or nil when `request.path` is not one (the caller answers 404 then).
    public func response(for request: HTTPRequest, allocator: ByteBufferAllocator) -> HTTPResponse? {
        guard let file = Self.file(for: request.path) else { return nil }
        if case .redirect(let location) = file {
            var response = HTTPResponse(status: .movedPermanently)
            response.headers.add(name: "location", value: location)
            return response
        }
        guard case .asset(let name) = file, let asset = load(name) else { return nil }
        let acceptsGzip = Self.acceptsGzip(request.headers.first(name: "accept-encoding"))
        let useGzip = acceptsGzip && asset.gzipped != nil
        let etag = useGzip ? asset.gzipETag : asset.etag
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: asset.contentType)
        headers.add(name: "etag", value: etag)
        headers.add(name: "cache-control", value: "no-cache")
        headers.add(name: "content-security-policy", value: Self.contentSecurityPolicy)
        headers.add(name: "x-content-type-options", value: "nosniff")
        headers.add(name: "referrer-policy", value: "no-referrer")
        // The HTTP layer adds Vary itself to the plain answers it could compress.
        if asset.gzipped != nil && acceptsGzip { headers.add(name: "vary", value: "Accept-Encoding") }
        if let match = request.headers.first(name: "if-none-match"), Self.matches(match, etag) {
            return HTTPResponse(status: .notModified, headers: headers)
        }
        if useGzip, let gzipped = asset.gzipped {
            headers.add(name: "content-encoding", value: "gzip")
            return HTTPResponse(status: .ok, headers: headers, body: gzipped)
        }
        return HTTPResponse(status: .ok, headers: headers, body: asset.body)
    }

    enum PageFile: Equatable {
        case asset(String)
        case redirect(String)
    }

    /// The file (relative to www/) that a path names, or nil. Refuses any path that could leave the directory:
    /// only segments of letters, digits, '-', '_' and '.', none empty and none starting with '.'.
    static func file(for path: String) -> PageFile? {
        switch path {
        case "/": return .asset("index.html")
        case "/status": return .asset("status.html")
        case "/status/": return .redirect("../status")
        case "/status/index.json": return .asset("status/index.json")
        case "/favicon.ico": return .asset("static/favicon.svg")
        default: break
        }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        guard segments.count >= 3, segments[0].isEmpty, segments.dropFirst().allSatisfy(isSafeSegment) else {
            return nil
        }
        if segments.count == 3, segments[1] == "status" {
            // One view alone: the same page for every view, which reads its name from the URL.
            return StatusViews.names.contains(String(segments[2])) ? .asset("view.html") : nil
        }
        guard segments[1] == "static" else { return nil }
        return .asset(segments.dropFirst().joined(separator: "/"))
    }

    private static func isSafeSegment(_ segment: Substring) -> Bool {
        guard let first = segment.utf8.first, first != UInt8(ascii: ".") else { return false }
        return segment.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
    }

    private func load(_ name: String) -> PageAsset? {
        guard let directory else { return EmbeddedAssets.files[name] }
        guard let bytes = Self.readFile(directory + "/" + name) else { return nil }
        return PageAsset(name: name, body: ByteBuffer(bytes: bytes), etag: "\"\(fnv1a(bytes))\"")
    }

    /// A regular file's bytes (development mode only; the built-in copies need no file I/O).
    private static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_size <= 16 << 20 else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var filled = 0
        while filled < bytes.count {
            let count = bytes.withUnsafeMutableBytes { buffer -> Int in
                guard let base = buffer.baseAddress else { return -1 }
                return read(fd, base + filled, buffer.count - filled)
            }
            if count <= 0 { break }
            filled += count
        }
        return Array(bytes[..<filled])
    }

    static func acceptsGzip(_ header: String?) -> Bool {
        guard let header else { return false }
        for item in header.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingASCIISpaces().lowercased() }
            guard let coding = parts.first, coding == "gzip" || coding == "*" else { continue }
            let refused = parts.dropFirst().contains { $0.replacingZeroQuality() }
            return !refused
        }
        return false
    }

    /// If-None-Match: `*` or a list of (weak or strong) tags compared weakly.
    static func matches(_ header: String, _ etag: String) -> Bool {
        header.split(separator: ",").contains { candidate in
            var tag = candidate.trimmingASCIISpaces()
            if tag == "*" { return true }
            if tag.hasPrefix("W/") { tag = tag.dropFirst(2) }
            return tag == etag[...]
        }
    }
}

extension String {
    /// True for a `q=0` parameter (the coding is refused).
    fileprivate func replacingZeroQuality() -> Bool {
        guard hasPrefix("q=") else { return false }
        return Double(dropFirst(2)).map { $0 == 0 } ?? false
    }
}

/// 64-bit FNV-1a as 16 hex digits: the development mode's ETag (the built-in copies use SHA-256 from the
/// generator).
func fnv1a(_ bytes: [UInt8]) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in bytes {
        hash ^= UInt64(byte)
        hash = hash &* 0x100_0000_01b3
    }
    let hex = String(hash, radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
}
