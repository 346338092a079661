import NIOCore
import NIOHTTP1

/// The per-request limits every connection handler enforces.
struct RequestLimits: Sendable {
    var maxBodyBytes: Int
    var maxHeaderBytes: Int
    var compressionMinimumBytes: Int

    init(_ configuration: HTTPServerConfiguration) {
        maxBodyBytes = configuration.maxBodyBytes
        maxHeaderBytes = configuration.maxHeaderBytes
        compressionMinimumBytes = configuration.compressionMinimumBytes
    }

    /// NIO's decoder counts header names and values as they arrive and fails with
    /// `HTTPParserError.headerOverflow` past the limit, so an oversized head is never buffered.
    var decoderLimits: NIOHTTPDecoderLimitConfiguration {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = maxHeaderBytes
        limits.maxHeaderFieldSize = maxHeaderBytes
        return limits
    }
}

/// Responses the connection guard writes itself, ahead of the HTTP encoder, built once.
enum RawResponses {
    static func continueResponse(allocator: ByteBufferAllocator) -> ByteBuffer {
        var buffer = allocator.buffer(capacity: 32)
        buffer.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
        return buffer
    }

    /// A complete `Connection: close` response carrying a problem.
    static func closing(_ problem: Problem, allocator: ByteBufferAllocator) -> ByteBuffer {
        var response = problem.response(allocator: allocator)
        var buffer = allocator.buffer(capacity: 256 + response.body.readableBytes)
        buffer.writeString("HTTP/1.1 \(problem.status.code) \(problem.status.reasonPhrase)\r\n")
        buffer.writeString("content-type: application/problem+json\r\n")
        buffer.writeString("content-length: \(response.body.readableBytes)\r\n")
        buffer.writeString("connection: close\r\n\r\n")
        buffer.writeBuffer(&response.body)
        return buffer
    }
}
