import NIOCore

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
}

/// Responses written as prepared bytes, built once.
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
