import NIOCore
import NIOHTTP1

/// Answers requests NIO's decoder cannot parse: 431 `headers-too-large` when the header block
/// overflows `maxHeaderBytes`, 400 `bad-request` for anything else, then closes. Stands where
/// NIO's `HTTPServerProtocolErrorHandler` would, so its writes skip the compressor.
final class ProtocolErrorHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let maxHeaderBytes: Int
    private let connectionGuard: ConnectionGuard
    private let metrics: HTTPMetrics
    private var hasUnterminatedResponse = false
    private var answered = false

    init(maxHeaderBytes: Int, connectionGuard: ConnectionGuard, metrics: HTTPMetrics) {
        self.maxHeaderBytes = maxHeaderBytes
        self.connectionGuard = connectionGuard
        self.metrics = metrics
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // Once answered, later errors (the decoder reports every further read) change nothing:
        // the connection is already closing gracefully.
        guard !answered else { return }
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        answered = true
        connectionGuard.willClose()
        // A response already under way cannot be followed by another: just close.
        guard !hasUnterminatedResponse else {
            context.close(promise: nil)
            return
        }
        let problem: Problem
        if case .headerOverflow = parserError {
            problem = .headersTooLarge(limit: maxHeaderBytes)
        } else {
            problem = .badRequest("malformed HTTP request (\(parserError))")
        }
        var response = problem.response(allocator: context.channel.allocator)
        response.headers.replaceOrAdd(
            name: "content-length", value: String(response.body.readableBytes))
        response.headers.replaceOrAdd(name: "connection", value: "close")
        metrics.countResponse(status: Int(problem.status.code))
        let head = HTTPResponseHead(
            version: .http1_1, status: problem.status, headers: response.headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            HTTPChannelHandler.closeGracefully(context)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200:
            hasUnterminatedResponse = true
        case .end:
            hasUnterminatedResponse = false
        default:
            break
        }
        context.write(data, promise: promise)
    }
}
