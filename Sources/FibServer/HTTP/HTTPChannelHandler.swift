import Logging
import NIOCore
import NIOHTTP1

/// Turns the request parts of one connection into `HTTPRequest`s, hands them to the responder
/// and writes its answers. `HTTPServerPipelineHandler` sits before it, so at most one request
/// is in flight per connection and pipelined requests wait their turn.
final class HTTPChannelHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        /// `declaredLength` is the Content-Length, or 0 for a chunked body.
        case receiving(head: HTTPRequestHead, body: ByteBuffer?, declaredLength: Int)
        case responding(keepAlive: Bool, isHead: Bool, version: HTTPVersion)
        case closing
    }

    private let responder: any HTTPResponder
    private let limits: RequestLimits
    private let connectionGuard: ConnectionGuard
    private let metrics: HTTPMetrics
    private let logger: Logger
    private let continueResponse: ByteBuffer
    private var state = State.idle
    private var context: ChannelHandlerContext?
    private var emptyBody = ByteBuffer()
    /// True while a keep-alive response's end is being written (which may deliver the next
    /// pipelined request re-entrantly).
    private var isEndingResponse = false

    init(
        responder: any HTTPResponder,
        limits: RequestLimits,
        connectionGuard: ConnectionGuard,
        metrics: HTTPMetrics,
        logger: Logger,
        continueResponse: ByteBuffer
    ) {
        self.responder = responder
        self.limits = limits
        self.connectionGuard = connectionGuard
        self.metrics = metrics
        self.logger = logger
        self.continueResponse = continueResponse
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        emptyBody = context.channel.allocator.buffer(capacity: 0)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        state = .closing
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            receivedHead(head, context: context)
        case .body(var part):
            guard case .receiving(let head, var body, let declaredLength) = state else { return }
            state = .closing  // drop the state's reference so appending does not copy
            let total = (body?.readableBytes ?? 0) + part.readableBytes
            if total > limits.maxBodyBytes {
                reject(
                    Problem.bodyTooLarge(limit: limits.maxBodyBytes), version: head.version, context: context)
                return
            }
            switch body {
            case .none where part.readableBytes < declaredLength:
                // First part of a longer body: allocate for all of it at once.
                var whole = context.channel.allocator.buffer(capacity: declaredLength)
                whole.writeBuffer(&part)
                body = whole
            case .none:
                body = part
            case .some(var accumulated):
                body = nil  // keep the accumulated buffer uniquely referenced
                accumulated.writeBuffer(&part)
                body = accumulated
            }
            state = .receiving(head: head, body: body, declaredLength: declaredLength)
        case .end:
            guard case .receiving(let head, let body, _) = state else { return }
            connectionGuard.requestEnded()
            dispatch(head: head, body: body ?? emptyBody, context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // I/O errors (reset by peer and the like) end the connection; nothing to answer.
        // While a final response lingers (see closeGracefully), errors change nothing.
        if case .closing = state { return }
        logger.trace("connection error", metadata: ["error": "\(error)"])
        state = .closing
        context.close(promise: nil)
    }

    private func receivedHead(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard case .idle = state else { return }
        var expectsBody = false
        var declaredLength = 0
        if let lengthText = head.headers.first(name: "content-length") {
            guard let length = Int(lengthText), length >= 0 else {
                connectionGuard.requestHeadArrived(expectsBody: false)
                reject(.badRequest("invalid Content-Length"), version: head.version, context: context)
                return
            }
            if length > limits.maxBodyBytes {
                connectionGuard.requestHeadArrived(expectsBody: false)
                reject(.bodyTooLarge(limit: limits.maxBodyBytes), version: head.version, context: context)
                return
            }
            expectsBody = length > 0
            declaredLength = length
        } else if head.headers.contains(name: "transfer-encoding") {
            expectsBody = true
        }
        connectionGuard.requestHeadArrived(expectsBody: expectsBody)
        if expectsBody, head.headers.first(name: "expect")?.lowercased() == "100-continue" {
            connectionGuard.writeRaw(continueResponse)
        }
        state = .receiving(head: head, body: nil, declaredLength: declaredLength)
    }

    private func dispatch(head: HTTPRequestHead, body: ByteBuffer, context: ChannelHandlerContext) {
        let isHead = head.method == .HEAD
        state = .responding(keepAlive: head.isKeepAlive, isHead: isHead, version: head.version)
        let request: HTTPRequest
        do {
            let (path, query) = try RequestTarget.parse(head.uri)
            request = HTTPRequest(
                method: head.method,
                uri: head.uri,
                path: path,
                query: query,
                headers: head.headers,
                body: body,
                version: head.version
            )
        } catch {
            reject(error, version: head.version, context: context)
            return
        }
        let requestContext = RequestContext(
            eventLoop: context.eventLoop,
            allocator: context.channel.allocator,
            closeFuture: context.channel.closeFuture
        )
        responder.respond(to: request, context: requestContext)
            .hop(to: context.eventLoop)
            .assumeIsolated()
            .whenComplete { [self] result in
                self.responderCompleted(result, method: head.method, uri: head.uri)
            }
    }

    private func responderCompleted(
        _ result: Result<HTTPResponse, any Error>, method: HTTPMethod, uri: String
    ) {
        // The client may have gone while the responder worked: then nobody wants the answer.
        guard let context, case .responding(let keepAlive, let isHead, let version) = state else {
            return
        }
        if isEndingResponse {
            // Completed synchronously for a pipelined request delivered while the previous
            // response's end was being written: answer on the next tick, so that a long
            // pipeline does not nest one stack frame chain per request.
            context.eventLoop.assumeIsolated().execute { [self] in
                self.responderCompleted(result, method: method, uri: uri)
            }
            return
        }
        let response: HTTPResponse
        switch result {
        case .success(let answer):
            response = answer
        case .failure(let problem as Problem):
            response = problem.response(allocator: context.channel.allocator)
        case .failure(let error):
            logger.error(
                "request failed",
                metadata: ["method": "\(method)", "uri": "\(uri)", "error": "\(error)"]
            )
            response = Problem.internalError.response(allocator: context.channel.allocator)
        }
        write(response, version: version, keepAlive: keepAlive, isHead: isHead, context: context)
    }

    /// Answers with a problem and closes the connection (the request is unusable or unread).
    private func reject(_ problem: Problem, version: HTTPVersion, context: ChannelHandlerContext) {
        let response = problem.response(allocator: context.channel.allocator)
        write(response, version: version, keepAlive: false, isHead: false, context: context)
    }

    private func write(
        _ response: consuming HTTPResponse,
        version: HTTPVersion,
        keepAlive: Bool,
        isHead: Bool,
        context: ChannelHandlerContext
    ) {
        // Take the headers out so that adding to them does not copy them.
        var headers = response.headers
        response.headers = HTTPHeaders()
        // 204 and 304 carry no body and (RFC 9110 section 8.6) no Content-Length of their own.
        let mayHaveBody = response.status.mayHaveResponseBody
        let length = mayHaveBody ? response.body.readableBytes : 0
        if mayHaveBody { headers.replaceOrAdd(name: "content-length", value: String(length)) }
        if !keepAlive {
            headers.replaceOrAdd(name: "connection", value: "close")
        } else if version.major == 1 && version.minor == 0 {
            headers.replaceOrAdd(name: "connection", value: "keep-alive")
        }
        if length >= limits.compressionMinimumBytes, ResponseCompression.isCompressible(headers) {
            headers.add(name: "vary", value: "Accept-Encoding")
            connectionGuard.compressNextResponse = !isHead
        } else {
            connectionGuard.compressNextResponse = false
        }
        metrics.countResponse(status: Int(response.status.code))
        let head = HTTPResponseHead(version: version, status: response.status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if !isHead && length > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(response.body))), promise: nil)
        }
        if keepAlive {
            // Before the end goes out: writing it may deliver the next pipelined request.
            state = .idle
            connectionGuard.responseWillEnd()
            isEndingResponse = true
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            isEndingResponse = false
        } else {
            state = .closing
            connectionGuard.willClose()
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                Self.closeGracefully(context)
            }
        }
    }

    /// Closes our side, then waits briefly for the client to close, so that a request body it is
    /// still sending does not turn into a reset that destroys the response before it is read.
    static func closeGracefully(_ context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        context.close(mode: .output).assumeIsolated().whenComplete { result in
            if case .failure = result {
                context.close(promise: nil)
                return
            }
            context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(2)) {
                context.close(promise: nil)
            }
        }
    }
}
