import NIOCore

/// What a responder knows about the connection a request came on.
public struct RequestContext: Sendable {
    /// The connection's event loop: completing the response future here saves a hop.
    public let eventLoop: any EventLoop
    public let allocator: ByteBufferAllocator
    /// Completes when the client's connection closes (use it to stop long-polls and work
    /// nobody waits for any more).
    public let closeFuture: EventLoopFuture<Void>

    public init(
        eventLoop: any EventLoop, allocator: ByteBufferAllocator, closeFuture: EventLoopFuture<Void>
    ) {
        self.eventLoop = eventLoop
        self.allocator = allocator
        self.closeFuture = closeFuture
    }
}

/// Answers requests. The future may complete on any event loop. A failure with a `Problem` (or a
/// `ProblemConvertible`) becomes that problem's response; any other failure becomes 500 `internal-error`
/// and is logged.
public protocol HTTPResponder: Sendable {
    func respond(to request: HTTPRequest, context: RequestContext) -> EventLoopFuture<HTTPResponse>
}

/// A responder made of a closure (tests, small tools).
public struct ClosureResponder: HTTPResponder {
    private let body: @Sendable (HTTPRequest, RequestContext) -> EventLoopFuture<HTTPResponse>

    public init(
        _ body: @escaping @Sendable (HTTPRequest, RequestContext) -> EventLoopFuture<HTTPResponse>
    ) {
        self.body = body
    }

    public func respond(to request: HTTPRequest, context: RequestContext) -> EventLoopFuture<
        HTTPResponse
    > {
        body(request, context)
    }
}
