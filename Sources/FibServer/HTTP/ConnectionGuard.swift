import NIOCore

/// The first handler of every connection (next to the socket). It enforces the header and idle
/// timeouts, counts bytes in and out, and writes the few responses that bypass the HTTP
/// encoder (`100 Continue`, `408`).
///
/// Timeouts are checked lazily: one timer per connection fires at or before the current
/// deadline and re-arms itself if the deadline moved, so a request costs one clock read and no
/// scheduling.
final class ConnectionGuard: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    enum Phase {
        /// Waiting for a request head (connection new, or bytes of the next request arrived).
        case awaitingHead
        /// Head received, body still arriving.
        case receivingBody
        /// The request is complete and the responder works on it: no deadline.
        case responding
        /// Keep-alive with nothing in flight.
        case idle
        /// A final response is being written; the connection closes after it.
        case closing
    }

    private let headerTimeout: TimeAmount
    private let idleTimeout: TimeAmount
    private let metrics: HTTPMetrics
    private let timeoutResponse: ByteBuffer
    private var context: ChannelHandlerContext?
    private(set) var phase: Phase = .awaitingHead
    private var deadline = NIODeadline.distantFuture
    private var timer: Scheduled<Void>?
    private var timerFiresAt = NIODeadline.distantFuture
    private var bytesArrivedWhileResponding = false

    /// Set by `HTTPChannelHandler` just before it writes a response head that may be
    /// compressed; read (and reset) by the compressor's predicate.
    var compressNextResponse = false

    init(
        headerTimeout: TimeAmount, idleTimeout: TimeAmount, metrics: HTTPMetrics,
        timeoutResponse: ByteBuffer
    ) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.metrics = metrics
        self.timeoutResponse = timeoutResponse
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive { enter(.awaitingHead, timeout: headerTimeout) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        enter(.awaitingHead, timeout: headerTimeout)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        phase = .closing
        cancelTimer()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data)
        metrics.received(bytes: bytes.readableBytes)
        let phaseBefore = phase
        context.fireChannelRead(data)
        switch phase {
        case .idle where phaseBefore == .idle:
            // Bytes of a new request arrived but did not complete its head.
            enter(.awaitingHead, timeout: headerTimeout)
        case .responding where phaseBefore == .responding:
            // Bytes of a pipelined request; the bytes that completed this request do not count.
            bytesArrivedWhileResponding = true
        default:
            break
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        metrics.sent(bytes: unwrapOutboundIn(data).readableBytes)
        context.write(data, promise: promise)
    }

    // MARK: Called by the HTTP handlers on the same event loop.

    func requestHeadArrived(expectsBody: Bool) {
        if expectsBody {
            // The body gets the idle timeout to arrive in full: generous, yet bounded.
            enter(.receivingBody, timeout: idleTimeout)
        } else {
            phase = .responding
        }
        bytesArrivedWhileResponding = false
    }

    func requestEnded() {
        if phase != .closing { phase = .responding }
    }

    /// Call before writing a keep-alive response's end: a pipelined request may be delivered
    /// during that write.
    func responseWillEnd() {
        if bytesArrivedWhileResponding {
            enter(.awaitingHead, timeout: headerTimeout)
        } else {
            enter(.idle, timeout: idleTimeout)
        }
        bytesArrivedWhileResponding = false
    }

    /// The connection closes after the response being written: no more timeouts.
    func willClose() {
        phase = .closing
        cancelTimer()
    }

    /// Writes bytes that are already a complete HTTP message, ahead of the HTTP encoder.
    func writeRaw(_ bytes: ByteBuffer) {
        context?.writeAndFlush(wrapOutboundOut(.byteBuffer(bytes)), promise: nil)
    }

    // MARK: Deadlines

    private func enter(_ newPhase: Phase, timeout: TimeAmount) {
        guard phase != .closing || newPhase == .closing else { return }
        phase = newPhase
        deadline = .now() + timeout
        if timer == nil || timerFiresAt > deadline {
            arm(at: deadline)
        }
    }

    private func arm(at time: NIODeadline) {
        guard let context else { return }
        timer?.cancel()
        timerFiresAt = time
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: time) { [self] in
            self.timerFired()
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
    }

    private func timerFired() {
        timer = nil
        guard let context else { return }
        switch phase {
        case .responding, .closing:
            return  // re-armed when the response ends
        case .awaitingHead, .receivingBody, .idle:
            break
        }
        if NIODeadline.now() < deadline {
            arm(at: deadline)
            return
        }
        if phase == .idle {
            phase = .closing
            context.close(promise: nil)
            return
        }
        phase = .closing
        metrics.countResponse(status: 408)
        context.writeAndFlush(wrapOutboundOut(.byteBuffer(timeoutResponse))).assumeIsolated()
            .whenComplete { _ in
                context.close(promise: nil)
            }
    }
}
