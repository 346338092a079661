import NIOHTTP1
import NIOHTTPCompression

/// Which responses are gzip-compressed: textual ones of at least
/// `compressionMinimumBytes`, for clients that accept gzip (the compressor checks that).
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

    /// A compressor that compresses exactly the responses `HTTPChannelHandler` marked on the guard.
    static func makeCompressor(connectionGuard: ConnectionGuard) -> HTTPResponseCompressor {
        HTTPResponseCompressor(initialByteBufferCapacity: 0) { _, _ in
            let compress = connectionGuard.compressNextResponse
            connectionGuard.compressNextResponse = false
            return compress ? .compressIfPossible : .doNotCompress
        }
    }
}
