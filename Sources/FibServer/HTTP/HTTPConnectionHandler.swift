import Logging
import NIOCore
import NIOHTTP1

/// What every connection of one server shares, so that each holds one reference to it.
final class HTTPConnectionSettings: Sendable {
    let responder: any HTTPResponder
    let limits: RequestLimits
    let headerTimeout: TimeAmount
    let idleTimeout: TimeAmount
    let metrics: HTTPMetrics
    let logger: Logger
    /// 408 `request-timeout` with `Connection: close`, built once.
    let timeoutResponse: ByteBuffer
    let continueResponse: ByteBuffer
    /// The body of requests without one (shared: an empty buffer still costs an allocation).
    let emptyBody: ByteBuffer

    init(configuration: HTTPServerConfiguration, responder: any HTTPResponder, metrics: HTTPMetrics, logger: Logger) {
        self.responder = responder
        self.limits = RequestLimits(configuration)
        self.headerTimeout = configuration.headerTimeout
        self.idleTimeout = configuration.idleTimeout
        self.metrics = metrics
        self.logger = logger
        let allocator = ByteBufferAllocator()
        let seconds = Double(configuration.headerTimeout.nanoseconds) / 1e9
        self.timeoutResponse = RawResponses.closing(
            .requestTimeout("the request head did not arrive within \(seconds) s"), allocator: allocator)
        self.continueResponse = RawResponses.continueResponse(allocator: allocator)
        self.emptyBody = allocator.buffer(capacity: 0)
    }
}

/// The whole HTTP/1.1 side of one connection, next to the socket: parses requests straight from
/// the received bytes, hands each to the responder, writes each answer as one buffer, and keeps
/// the header and idle deadlines (enforced by its event loop's sweep). One request is in flight at
/// a time; pipelined requests wait in `pending`, and reading stops until their turn.
///
/// While idle it holds a few fields and no buffer: no header storage, no compressor, no timer.
final class HTTPConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Phase: UInt8 {
        /// Waiting for a request head (connection new, or bytes of the next request arrived).
        case awaitingHead
        /// Head received, body still arriving.
        case receivingBody
        /// The request is complete and the responder works on it: no deadline.
        case responding
        /// Keep-alive with nothing in flight.
        case idle
        /// A final response is being written or the connection is gone: no deadline, input ignored.
        case closing
    }

    /// A request whose body is arriving: a class, so that an idle connection does not carry
    /// room for it.
    private final class BodyInProgress {
        let head: ParsedRequestHead
        var body: ByteBuffer
        /// Bytes still to come of a Content-Length body.
        var remaining: Int
        var chunked: ChunkedBodyDecoder?

        init(head: ParsedRequestHead, body: ByteBuffer, remaining: Int, chunked: ChunkedBodyDecoder? = nil) {
            self.head = head
            self.body = body
            self.remaining = remaining
            self.chunked = chunked
        }
    }

    /// An answer the responder gave synchronously, waiting for `serve` (boxed, so that neither an
    /// idle connection nor a held long-poll carries room for a response).
    private final class SynchronousAnswer {
        let result: Result<HTTPResponse, any Error>
        init(_ result: Result<HTTPResponse, any Error>) { self.result = result }
    }

    private typealias CompleteRequest = (head: ParsedRequestHead, body: ByteBuffer)

    private let settings: HTTPConnectionSettings
    private let loopConnections: EventLoopConnections
    private var context: ChannelHandlerContext?
    private(set) var phase = Phase.awaitingHead
    /// When the current phase times out; read by the loop's sweep.
    var deadline = NIODeadline.distantFuture
    /// This connection's place in `loopConnections`, -1 when not there.
    var sweepSlot = -1
    /// Received bytes not yet parsed: a partial head, or requests pipelined behind the current one.
    private var pending: ByteBuffer?
    /// How much of `pending` the head parser has already searched.
    private var scanned = 0
    private var bodyInProgress: BodyInProgress?
    // The response being prepared.
    private var keepAlive = false
    private var isHead = false
    private var minorVersion = 1
    private var coding = ResponseCoding.identity
    private var quiescing = false
    /// A read was asked for while a pipelined request waited: issue it once that one is served.
    private var readHeld = false
    private var isDispatching = false
    private var synchronousAnswer: SynchronousAnswer?

    init(settings: HTTPConnectionSettings, loopConnections: EventLoopConnections) {
        self.settings = settings
        self.loopConnections = loopConnections
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { start() }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        stop()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        start()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        stop()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // I/O errors (reset by peer and the like) end the connection; nothing to answer.
        // While a final response lingers (see closeGracefully), errors change nothing.
        guard phase != .closing else { return }
        settings.logger.trace("connection error", metadata: ["error": "\(error)"])
        stop()
        context.close(promise: nil)
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is ChannelShouldQuiesceEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        // Draining: a connection between requests closes now, one mid-request after its answer.
        quiescing = true
        switch phase {
        case .idle, .awaitingHead:
            stop()
            context.close(promise: nil)
        case .receivingBody, .responding, .closing:
            break
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        settings.metrics.received(bytes: bytes.readableBytes)
        switch phase {
        case .closing:
            return
        case .responding:
            // Pipelined behind the request in flight: keep for later (reading stops, see read).
            if pending == nil {
                pending = context.channel.allocator.buffer(capacity: bytes.readableBytes)
            }
            pending?.writeBuffer(&bytes)
            let bound = settings.limits.maxHeaderBytes + settings.limits.maxBodyBytes + 65536
            if let pending, pending.readableBytes > bound {
                stop()
                context.close(promise: nil)
            }
        case .awaitingHead, .receivingBody, .idle:
            let request: CompleteRequest?
            if var buffered = pending {
                pending = nil
                buffered.writeBuffer(&bytes)
                request = consume(&buffered, owned: true)
            } else {
                request = consume(&bytes, owned: false)
            }
            if let request { serve(request) }
        }
    }

    func read(context: ChannelHandlerContext) {
        // A pipelined request is waiting: read no more until it is served. Otherwise keep reading,
        // so that a client that leaves while its long-poll is held is noticed at once.
        if phase == .responding && pending != nil {
            readHeld = true
            return
        }
        context.read()
    }

    // MARK: Deadlines

    private func start() {
        guard phase == .awaitingHead, sweepSlot < 0, deadline == .distantFuture else { return }
        enter(.awaitingHead, timeout: settings.headerTimeout)
        loopConnections.add(self)
    }

    /// No more requests on this connection: leave the sweep, drop buffered input.
    private func stop() {
        phase = .closing
        deadline = .distantFuture
        pending = nil
        bodyInProgress = nil
        loopConnections.remove(self)
    }

    private func enter(_ newPhase: Phase, timeout: TimeAmount) {
        phase = newPhase
        deadline = .now() + timeout
    }

    /// Called by the loop's sweep once `deadline` has passed.
    func deadlinePassed() {
        guard let context else {
            stop()
            return
        }
        switch phase {
        case .responding, .closing:
            deadline = .distantFuture
        case .idle:
            stop()
            context.close(promise: nil)
        case .awaitingHead, .receivingBody:
            stop()
            settings.metrics.countResponse(status: 408)
            settings.metrics.sent(bytes: settings.timeoutResponse.readableBytes)
            context.writeAndFlush(wrapOutboundOut(settings.timeoutResponse)).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        }
    }

    // MARK: Requests

    /// Parses what `buffer` holds: returns a request once one is complete, and keeps what follows
    /// it in `pending`. `owned` says whether `buffer` may be kept as is (else its bytes are copied,
    /// so that the channel's receive buffer can be reused).
    private func consume(_ buffer: inout ByteBuffer, owned: Bool) -> CompleteRequest? {
        let request = parse(&buffer)
        if phase != .closing && buffer.readableBytes > 0 {
            if owned {
                if buffer.readerIndex > 4096 { buffer.discardReadBytes() }
                pending = buffer
            } else {
                var copy = context?.channel.allocator.buffer(capacity: buffer.readableBytes) ?? ByteBuffer()
                copy.writeBuffer(&buffer)
                pending = copy
            }
        }
        return request
    }

    private func parse(_ buffer: inout ByteBuffer) -> CompleteRequest? {
        let limits = settings.limits
        while buffer.readableBytes > 0 {
            switch phase {
            case .responding, .closing:
                return nil
            case .idle, .awaitingHead:
                if phase == .idle {
                    // Bytes of a new request: its head has the header timeout to arrive in full.
                    enter(.awaitingHead, timeout: settings.headerTimeout)
                    scanned = 0
                }
                let result = buffer.withUnsafeReadableBytes { bytes in
                    HTTPRequestParser.parseHead(bytes, scanned: &scanned, maxHeadBytes: limits.maxHeaderBytes)
                }
                switch result {
                case .incomplete:
                    return nil
                case .tooLarge:
                    reject(.headersTooLarge(limit: limits.maxHeaderBytes), minorVersion: 1)
                    return nil
                case .malformed(let detail):
                    reject(.badRequest("malformed HTTP request (\(detail))"), minorVersion: 1)
                    return nil
                case .head(let head, let headLength):
                    buffer.moveReaderIndex(forwardBy: headLength)
                    switch head.framing {
                    case .none:
                        phase = .responding
                        deadline = .distantFuture
                        return (head, settings.emptyBody)
                    case .length(let length) where length > limits.maxBodyBytes:
                        reject(.bodyTooLarge(limit: limits.maxBodyBytes), minorVersion: head.version.minor)
                        return nil
                    case .length(let length):
                        bodyInProgress = BodyInProgress(head: head, body: settings.emptyBody, remaining: length)
                    case .chunked:
                        bodyInProgress = BodyInProgress(
                            head: head, body: settings.emptyBody, remaining: 0, chunked: ChunkedBodyDecoder())
                    }
                    // The body gets the idle timeout to arrive in full: generous, yet bounded.
                    enter(.receivingBody, timeout: settings.idleTimeout)
                    if head.expectsContinue, let context {
                        send(settings.continueResponse, context: context)
                        context.flush()
                    }
                }
            case .receivingBody:
                guard let progress = bodyInProgress else { return nil }
                if var decoder = progress.chunked {
                    let (consumed, outcome) = buffer.withUnsafeReadableBytes { bytes in
                        decoder.decode(
                            bytes, into: &progress.body, maxBodyBytes: limits.maxBodyBytes,
                            maxLineBytes: limits.maxHeaderBytes)
                    }
                    buffer.moveReaderIndex(forwardBy: consumed)
                    switch outcome {
                    case .needMore:
                        progress.chunked = decoder
                    case .done:
                        bodyInProgress = nil
                        phase = .responding
                        deadline = .distantFuture
                        return (progress.head, progress.body)
                    case .tooLarge:
                        reject(.bodyTooLarge(limit: limits.maxBodyBytes), minorVersion: progress.head.version.minor)
                        return nil
                    case .malformed(let detail):
                        reject(
                            .badRequest("malformed chunked body (\(detail))"),
                            minorVersion: progress.head.version.minor)
                        return nil
                    }
                } else {
                    if progress.body.capacity == 0 {
                        // First bytes of the body: allocate for all of it at once.
                        progress.body = context?.channel.allocator.buffer(capacity: progress.remaining) ?? ByteBuffer()
                    }
                    let take = min(progress.remaining, buffer.readableBytes)
                    if var part = buffer.readSlice(length: take) { progress.body.writeBuffer(&part) }
                    progress.remaining -= take
                    if progress.remaining == 0 {
                        bodyInProgress = nil
                        phase = .responding
                        deadline = .distantFuture
                        return (progress.head, progress.body)
                    }
                }
            }
        }
        return nil
    }

    /// Hands requests to the responder one after the other: the first, then each pipelined one
    /// whose predecessor was answered synchronously (a loop, not a recursion).
    private func serve(_ first: CompleteRequest) {
        var next: CompleteRequest? = first
        while let (head, body) = next {
            next = nil
            guard let context else { return }
            keepAlive = head.keepAlive
            isHead = head.method == .HEAD
            minorVersion = head.version.minor
            coding = head.coding
            let request: HTTPRequest
            do {
                let (path, query) = try RequestTarget.parse(head.uri)
                request = HTTPRequest(
                    method: head.method, uri: head.uri, path: path, query: query, headers: head.headers,
                    body: body, version: head.version)
            } catch {
                reject(error, minorVersion: head.version.minor)
                return
            }
            let requestContext = RequestContext(
                eventLoop: context.eventLoop, allocator: context.channel.allocator,
                closeFuture: context.channel.closeFuture)
            // Only the method is kept for the log of a failure: the target would cost every held
            // long-poll an allocation.
            let method = head.method
            isDispatching = true
            synchronousAnswer = nil
            settings.responder.respond(to: request, context: requestContext)
                .hop(to: context.eventLoop)
                .assumeIsolated()
                .whenComplete { [self] result in
                    if self.isDispatching {
                        self.synchronousAnswer = SynchronousAnswer(result)
                    } else if let following = self.complete(result, method: method) {
                        self.serve(following)
                    }
                }
            isDispatching = false
            guard let answer = synchronousAnswer else { return }
            synchronousAnswer = nil
            next = complete(answer.result, method: method)
        }
    }

    /// Writes the responder's answer; returns the next pipelined request if one is complete.
    private func complete(_ result: Result<HTTPResponse, any Error>, method: HTTPMethod) -> CompleteRequest? {
        // The client may have gone while the responder worked: then nobody wants the answer.
        guard let context, phase == .responding else { return nil }
        let response: HTTPResponse
        switch result {
        case .success(let answer):
            response = answer
        case .failure(let problem as Problem):
            response = problem.response(allocator: context.channel.allocator)
        case .failure(let convertible as any ProblemConvertible):
            response = convertible.problem.response(allocator: context.channel.allocator)
        case .failure(let error):
            settings.logger.error(
                "request failed", metadata: ["method": "\(method)", "error": "\(error)"])
            response = Problem.internalError.response(allocator: context.channel.allocator)
        }
        let keepOpen = keepAlive && !quiescing
        write(response, keepAlive: keepOpen, context: context)
        guard keepOpen else { return nil }
        if readHeld {
            readHeld = false
            context.read()
        }
        guard var buffered = pending else { return nil }
        pending = nil
        return consume(&buffered, owned: true)
    }

    /// Answers with a problem and closes the connection (the request is unusable or unread).
    private func reject(_ problem: Problem, minorVersion: Int) {
        guard let context else { return }
        let response = problem.response(allocator: context.channel.allocator)
        isHead = false
        coding = .identity
        self.minorVersion = minorVersion
        write(response, keepAlive: false, context: context)
    }

    // MARK: Responses

    private func write(_ response: HTTPResponse, keepAlive: Bool, context: ChannelHandlerContext) {
        let limits = settings.limits
        let status = response.status
        // 204 and 304 carry no body and (RFC 9110 section 8.6) no Content-Length of their own.
        let mayHaveBody = status.mayHaveResponseBody
        var body = response.body
        let length = mayHaveBody ? body.readableBytes : 0
        let compressible =
            length >= limits.compressionMinimumBytes && ResponseCompression.isCompressible(response.headers)
        var appliedCoding = ResponseCoding.identity
        if compressible && !isHead && coding != .identity,
            let compressed = loopConnections.compress(body, coding: coding, allocator: context.channel.allocator)
        {
            body = compressed
            appliedCoding = coding
        }
        let sentLength = appliedCoding == .identity ? length : body.readableBytes
        let inlineBody = !isHead && mayHaveBody && sentLength <= 16384
        var out = context.channel.allocator.buffer(capacity: 160 + (inlineBody ? sentLength : 0))
        HTTPResponseSerializer.writeHead(
            status: status, minorVersion: minorVersion, headers: response.headers, into: &out)
        if compressible { out.writeStaticString("vary: Accept-Encoding\r\n") }
        switch appliedCoding {
        case .gzip: out.writeStaticString("content-encoding: gzip\r\n")
        case .deflate: out.writeStaticString("content-encoding: deflate\r\n")
        case .identity: break
        }
        if mayHaveBody {
            out.writeStaticString("content-length: ")
            out.writeDecimal(sentLength)
            out.writeStaticString("\r\n")
        }
        if !keepAlive {
            out.writeStaticString("connection: close\r\n")
        } else if minorVersion == 0 {
            out.writeStaticString("connection: keep-alive\r\n")
        }
        out.writeStaticString("\r\n")
        settings.metrics.countResponse(status: Int(status.code))
        let last: ByteBuffer
        if inlineBody {
            out.writeBuffer(&body)
            last = out
        } else if !isHead && mayHaveBody && sentLength > 0 {
            send(out, context: context)
            last = body
        } else {
            last = out
        }
        if keepAlive {
            if let pending, pending.readableBytes > 0 {
                enter(.awaitingHead, timeout: settings.headerTimeout)
            } else {
                enter(.idle, timeout: settings.idleTimeout)
            }
            scanned = 0
            send(last, context: context)
            context.flush()
        } else {
            stop()
            settings.metrics.sent(bytes: last.readableBytes)
            context.writeAndFlush(wrapOutboundOut(last)).assumeIsolated().whenComplete { _ in
                Self.closeGracefully(context)
            }
        }
    }

    private func send(_ bytes: ByteBuffer, context: ChannelHandlerContext) {
        settings.metrics.sent(bytes: bytes.readableBytes)
        context.write(wrapOutboundOut(bytes), promise: nil)
    }

    /// Closes our side, then waits briefly for the client to close, so that a request body it is
    /// still sending does not turn into a reset that destroys the response before it is read.
    private static func closeGracefully(_ context: ChannelHandlerContext) {
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

/// Writes a response's status line and header fields.
enum HTTPResponseSerializer {
    /// The status line and the given fields, except the framing ones the server sets itself
    /// (`content-length`, `connection`); the blank line is left to the caller.
    static func writeHead(
        status: HTTPResponseStatus, minorVersion: Int, headers: HTTPHeaders, into out: inout ByteBuffer
    ) {
        out.writeStaticString(minorVersion == 0 ? "HTTP/1.0 " : "HTTP/1.1 ")
        out.writeDecimal(Int(status.code))
        out.writeStaticString(" ")
        out.writeString(status.reasonPhrase)
        out.writeStaticString("\r\n")
        for (name, value) in headers {
            switch name.utf8.count {
            case 14 where name.lowercased() == "content-length": continue
            case 10 where name.lowercased() == "connection": continue
            default: break
            }
            out.writeString(name)
            out.writeStaticString(": ")
            out.writeString(value)
            out.writeStaticString("\r\n")
        }
    }
}

extension ByteBuffer {
    /// Writes a non-negative integer in decimal, without an intermediate `String`.
    mutating func writeDecimal(_ value: Int) {
        var digits = 1
        var scale = 10
        while digits < 19 && value >= scale {
            digits += 1
            scale &*= 10
        }
        writeWithUnsafeMutableBytes(minimumWritableBytes: digits) { bytes in
            var rest = max(0, value)
            for place in stride(from: digits - 1, through: 0, by: -1) {
                bytes[place] = UInt8(truncatingIfNeeded: 48 + rest % 10)
                rest /= 10
            }
            return digits
        }
    }
}
