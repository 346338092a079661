import Logging
import NIOCore
import NIOHTTP1
import NIOPosix

@testable import FibServer

struct TestFailure: Error {}

/// Routes of the trivial responder the server tests talk to.
struct TestResponder: HTTPResponder {
    let otherLoop: any EventLoop
    let closeObserved: AsyncStream<Void>.Continuation?
    let slowStarted: AsyncStream<Void>.Continuation?

    func respond(to request: HTTPRequest, context: RequestContext) -> EventLoopFuture<HTTPResponse> {
        let loop = context.eventLoop
        switch request.path {
        case "/hello":
            return loop.makeSucceededFuture(.text(.ok, "hello"))
        case "/echo":
            var writer = JSONWriter(allocator: context.allocator)
            writer.beginObject()
            writer.member("method", request.method.rawValue)
            writer.member("path", request.path)
            writer.key("query")
            writer.beginArray()
            for (name, value) in request.query {
                writer.beginArray()
                writer.string(name)
                writer.string(value)
                writer.endArray()
            }
            writer.endArray()
            writer.member("body", String(buffer: request.body))
            writer.endObject()
            return loop.makeSucceededFuture(.json(.ok, writer.buffer))
        case "/empty":
            return loop.makeSucceededFuture(HTTPResponse(status: .noContent))
        case "/big":
            var writer = JSONWriter(allocator: context.allocator)
            writer.beginArray()
            for index in 0..<1000 { writer.int(index) }
            writer.endArray()
            return loop.makeSucceededFuture(.json(.ok, writer.buffer))
        case "/big-binary":
            let body = ByteBuffer(bytes: [UInt8](repeating: 7, count: 4096))
            return loop.makeSucceededFuture(
                HTTPResponse(status: .ok, headers: ["content-type": "application/octet-stream"], body: body)
            )
        case "/slow":
            let milliseconds = request.query["ms"].flatMap(Int.init) ?? 100
            slowStarted?.yield()
            return loop.scheduleTask(in: .milliseconds(Int64(milliseconds))) {
                HTTPResponse.text(.ok, "slow \(milliseconds)")
            }.futureResult
        case "/other-loop":
            return otherLoop.submit { HTTPResponse.text(.ok, "from another loop") }
        case "/problem":
            return loop.makeFailedFuture(
                Problem(
                    slug: "teapot",
                    status: .imATeapot,
                    detail: "short and \"stout\"",
                    extensions: [("spout", 1), ("handle", ["left", nil])],
                    headers: ["retry-after": "5"]
                )
            )
        case "/error":
            return loop.makeFailedFuture(TestFailure())
        case "/hold":
            // Answers only once the client has gone: the answer must be dropped quietly.
            let continuation = closeObserved
            return context.closeFuture.map {
                continuation?.yield()
                return HTTPResponse.text(.ok, "too late")
            }
        default:
            return loop.makeSucceededFuture(.text(.notFound, "no such path"))
        }
    }
}

/// A running server on 127.0.0.1 port 0 with the test responder.
final class TestServer: Sendable {
    let group: MultiThreadedEventLoopGroup
    let server: HTTPServer
    let listeners: [BoundListener]
    let closes: AsyncStream<Void>
    /// One element each time a `/slow` request reaches the responder.
    let slowStarts: AsyncStream<Void>

    var port: Int {
        guard case .tcp(_, let port) = listeners[0].address else { return -1 }
        return port
    }

    static func start(
        listen: [ListenAddress] = [.tcp(host: "127.0.0.1", port: 0)],
        _ configure: (inout HTTPServerConfiguration) -> Void = { _ in }
    ) async throws -> TestServer {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        var configuration = HTTPServerConfiguration(listen: listen)
        configure(&configuration)
        let (closes, continuation) = AsyncStream<Void>.makeStream()
        let (slowStarts, slowContinuation) = AsyncStream<Void>.makeStream()
        let responder = TestResponder(
            otherLoop: group.next(),
            closeObserved: continuation,
            slowStarted: slowContinuation
        )
        var logger = Logger(label: "fibd.test")
        logger.logLevel = .critical
        let server = HTTPServer(configuration: configuration, group: group, responder: responder, logger: logger)
        do {
            let listeners = try await server.start()
            return TestServer(
                group: group,
                server: server,
                listeners: listeners,
                closes: closes,
                slowStarts: slowStarts
            )
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private init(
        group: MultiThreadedEventLoopGroup,
        server: HTTPServer,
        listeners: [BoundListener],
        closes: AsyncStream<Void>,
        slowStarts: AsyncStream<Void>
    ) {
        self.group = group
        self.server = server
        self.listeners = listeners
        self.closes = closes
        self.slowStarts = slowStarts
    }

    func client(timeoutSeconds: Int = 5) throws -> RawHTTPClient {
        try RawHTTPClient(port: port, receiveTimeoutSeconds: timeoutSeconds)
    }

    func stop() async {
        await server.shutdown(gracePeriod: .seconds(2))
        try? await group.shutdownGracefully()
    }
}

func get(_ path: String, headers: String = "") -> String {
    "GET \(path) HTTP/1.1\r\nHost: test\r\n\(headers)\r\n"
}
