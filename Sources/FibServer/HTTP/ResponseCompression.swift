import NIOHTTP1

/// Which responses are compressed (gzip or deflate, as the client accepts): textual ones of at least
/// `compressionMinimumBytes`.
enum ResponseCompression {
    static func isCompressible(_ headers: HTTPHeaders) -> Bool {
        guard !headers.contains(name: "content-encoding"),
            let type = headers.first(name: "content-type")
        else {
            return false
        }
        let mediaType = type.prefix { $0 != ";" }.lowercased()
        if mediaType.hasPrefix("text/") { return true }
        switch mediaType {
        case "application/json", "application/problem+json", "application/javascript",
            "application/xml",
            "image/svg+xml":
            return true
        default:
            return mediaType.hasSuffix("+json")
        }
    }
}
