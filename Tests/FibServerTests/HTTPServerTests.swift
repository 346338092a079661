import Glibc
import NIOCore
import NIOHTTP1
import Testing

@testable import FibServer

private func problemSlug(_ response: RawHTTPClient.Response) throws -> String? {
    #expect(response.header("content-type") == "application/problem+json")
    let json = try JSONParser.parse(response.body)
    #expect(json["status"]?.intValue == response.status)
    return json["type"]?.stringValue.map { String($0.dropFirst(Problem.typePrefix.count)) }
}

@Suite("HTTP server", .serialized)
struct HTTPServerTests {
    @Test func keepAliveServesSeveralRequestsOnOneConnection() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = try server.client()
        for _ in 0..<3 {
            try client.send(get("/hello"))
            let response = try client.readResponse()
            #expect(response.status == 200)
            #expect(response.bodyText == "hello")
            #expect(response.header("content-length") == "5")
            #expect(response.header("connection") == nil)
        }
        #expect(server.server.metrics.responses(status: 200) == 3)
        #expect(server.server.metrics.openConnections == 1)
        #expect(server.server.metrics.bytesReceived > 0)
        #expect(server.server.metrics.bytesSent > 0)
    }

    @Test func listenerReportsTheChosenPort() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        #expect(server.port > 0)
        #expect(server.listeners[0].description == "127.0.0.1:\(server.port)")
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = try server.client()
        try client.send(get("/slow?ms=150") + get("/hello") + get("/echo?a=1&b=two+words&c=%C3%A9"))
        let first = try client.readResponse()
        let second = try client.readResponse()
        let third = try client.readResponse()
        #expect(first.bodyText == "slow 150")
        #expect(second.bodyText == "hello")
        let echo = try JSONParser.parse(third.body)
        #expect(echo["query"] == [["a", "1"], ["b", "two words"], ["c", "é"]])
    }

    @Test func longPipelineOfImmediateAnswersIsServedInOrder() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = try server.client()
        let count = 3000
        try client.send(String(repeating: get("/hello"), count: count) + get("/echo?last=1"))
        let bytes = try client.readUntil(count: count + 1, of: "HTTP/1.1 200 OK")
        try client.send(get("/hello"))
        _ = try client.readUntil(count: 1, of: "hello")
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 200 OK"))
        #expect(server.server.metrics.responses(status: 200) >= count + 1)
    }

    @Test func headGetsTheGetHeadersWithoutBody() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = try server.client()
        try client.send(get("/big"))
        let full = try client.readResponse()
        try client.send("HEAD /big HTTP/1.1\r\nHost: test\r\n\r\n")
        let head = try client.readResponse(bodyless: true)
        #expect(head.status == 200)
        #expect(head.header("content-length") == String(full.body.count))
        // The next response on the connection must start right after the head.
        try client.send(get("/hello"))
        #expect(try client.readResponse().bodyText == "hello")
    }

    @Test func noContentHasNeitherBodyNorLength() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = try server.client()
        try client.send(get("/empty") + get("/hello"))
        let empty = try client.readResponse()
        #expect(empty.status == 204)
        #expect(empty.header("content-length") == nil)
        #expect(empty.header("transfer-encoding") == nil)
        #expect(try client.readResponse().bodyText == "hello")
    }

    @Test func requestBodyAndPercentDecodedPathReachTheResponder() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = try server.client()
        try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\n{\"n\": 40}\r\n")
        let echo = try JSONParser.parse(try client.readResponse().body)
        #expect(echo["method"] == "POST")
        #expect(echo["body"] == "{\"n\": 40}\r\n")
        try client.send(
            "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        #expect(try JSONParser.parse(try client.readResponse().body)["body"] == "abcde")
        try client.send(get("/%65cho"))
        #expect(try JSONParser.parse(try client.readResponse().body)["path"] == "/echo")
    }

    @Test func expectContinueGetsAnInterimResponse() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = try server.client()
        try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
        let interim = try client.readResponse()
        #expect(interim.status == 100)
        try client.send("hello")
        let response = try client.readResponse()
        #expect(try JSONParser.parse(response.body)["body"] == "hello")
    }

    @Test func bodyOverTheLimitByContentLengthIsRefusedUnread() async throws {
        let server = try await TestServer.start { $0.maxBodyBytes = 1000 }
        defer { Task { await server.stop() } }
        let client = try server.client()
        try client.send(
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n" + String(repeating: "x", count: 100))
        let response = try client.readResponse()
        #expect(response.status == 413)
        #expect(try problemSlug(response) == "body-too-large")
        #expect(response.header("connection") == "close")
        _ = try client.readUntilClosed()
    }

    @Test func chunkedBodyGrowingPastTheLimitIsRefused() async throws {
        let server = try await TestServer.start { $0.maxBodyBytes = 1000 }
        defer { Task { await server.stop() } }
        let client = try server.client()
        let chunk = "258\r\n" + String(repeating: "y", count: 600) + "\r\n"
        try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk + chunk)
        let response = try client.readResponse()
        #expect(response.status == 413)
        #expect(try problemSlug(response) == "body-too-large")
        _ = try client.readUntilClosed()
    }

    @Test func bodyAtTheLimitIsAccepted() async throws {
        let server = try await TestServer.start { $0.maxBodyBytes = 1000 }
        defer { Task { await server.stop() } }
        let client = try server.client()
        try client.send(
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n" + String(repeating: "z", count: 1000))
        #expect(try client.readResponse().status == 200)
    }

    @Test func headerBlockOverTheLimitGets431() async throws {
        let server = try await TestServer.start { $0.maxHeaderBytes = 1024 }
        defer { Task { await server.stop() } }
        let client = try server.client()
        try client.send(get("/hello", headers: "X-Big: \(String(repeating: "h", count: 2000))\r\n"))
        let response = try client.readResponse()
        #expect(response.status == 431)
        #expect(try problemSlug(response) == "headers-too-large")
        _ = try client.readUntilClosed()
        // The request target counts towards the limit too.
        let longTarget = try server.client()
        try longTarget.send(get("/hello?pad=" + String(repeating: "p", count: 2000)))
        #expect(try longTarget.readResponse().status == 431)
    }

    @Test func malformedRequestGets400AndClose() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = try server.client()
        try client.send("THIS IS NOT HTTP\r\n\r\n")
        let response = try client.readResponse()
        #expect(response.status == 400)
        #expect(try problemSlug(response) == "bad-request")
        _ = try client.readUntilClosed()
    }

    @Test func badPercentEscapeInPathGets400() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = try server.client()
        try client.send(get("/a%zz"))
        let response = try client.readResponse()
        #expect(response.status == 400)
        #expect(try problemSlug(response) == "bad-request")
    }

    @Test func incompleteHeadTimesOutWith408() async throws {
        let server = try await TestServer.start { $0.headerTimeout = .milliseconds(300) }
        defer { Task { await server.stop() } }
        let client = try server.client()
        try client.send("GET /hello HTTP/1.1\r\nHost: t\r\n")
        let response = try client.readResponse()
        #expect(response.status == 408)
        #expect(try problemSlug(response) == "request-timeout")
        _ = try client.readUntilClosed()
        // A connection that sends nothing at all is treated the same.
        let silent = try server.client()
        #expect(try silent.readResponse().status == 408)
    }

    @Test func slowHeadAfterAKeepAliveResponseTimesOut() async throws {
        let server = try await TestServer.start { $0.headerTimeout = .milliseconds(300) }
        defer { Task { await server.stop() } }
        let client = try server.client()
        try client.send(get("/hello"))
        #expect(try client.readResponse().status == 200)
        try client.send("GET /hel")
        #expect(try client.readResponse().status == 408)
    }

    @Test func bodyThatStopsArrivingTimesOutWith408() async throws {
        let server = try await TestServer.start {
            $0.idleTimeout = .milliseconds(300)
            $0.headerTimeout = .milliseconds(300)
        }
        defer { Task { await server.stop() } }
        let client = try server.client()
        try client.send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
        let response = try client.readResponse()
        #expect(response.status == 408)
        _ = try client.readUntilClosed()
    }

    @Test func connectionCloseAndHTTP10AreHonoured() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let closing = try server.client()
        try closing.send(get("/hello", headers: "Connection: close\r\n"))
        let response = try closing.readResponse()
        #expect(response.header("connection") == "close")
        #expect(response.bodyText == "hello")
        _ = try closing.readUntilClosed()

        let old = try server.client()
        try old.send("GET /hello HTTP/1.0\r\n\r\n")
        #expect(try old.readResponse().bodyText == "hello")
        _ = try old.readUntilClosed()

        let oldKeepAlive = try server.client()
        for _ in 0..<2 {
            try oldKeepAlive.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let answer = try oldKeepAlive.readResponse()
            #expect(answer.header("connection")?.lowercased() == "keep-alive")
            #expect(answer.bodyText == "hello")
        }
    }

    @Test func idleKeepAliveConnectionIsClosedSilently() async throws {
        let server = try await TestServer.start {
            $0.idleTimeout = .milliseconds(300)
            $0.headerTimeout = .seconds(5)
        }
        defer { Task { await server.stop() } }
        let client = try server.client()
        try client.send(get("/hello"))
        #expect(try client.readResponse().status == 200)
        let start = ContinuousClock.now
        #expect(try client.readUntilClosed().isEmpty)
        #expect(ContinuousClock.now - start >= .milliseconds(250))
    }

    @Test func requestInFlightOutlivesTheIdleTimeout() async throws {
        let server = try await TestServer.start {
            $0.idleTimeout = .milliseconds(200)
            $0.headerTimeout = .milliseconds(200)
        }
        defer { Task { await server.stop() } }
        let client = try server.client()
        try client.send(get("/slow?ms=800"))
        let response = try client.readResponse()
        #expect(response.status == 200)
        #expect(response.bodyText == "slow 800")
    }

    @Test func connectionsOverTheLimitAreClosedAtOnce() async throws {
        let server = try await TestServer.start { $0.maxConnections = 2 }
        defer { Task { await server.stop() } }
        var first: RawHTTPClient? = try server.client()
        let second = try server.client()
        for client in [first, second].compactMap({ $0 }) {
            try client.send(get("/hello"))
            #expect(try client.readResponse().status == 200)
        }
        let third = try server.client()
        #expect(try third.readUntilClosed().isEmpty)
        #expect(server.server.metrics.rejectedConnections == 1)
        first = nil  // closes it
        #expect(first == nil)
        let deadline = ContinuousClock.now + .seconds(5)
        while server.server.metrics.openConnections > 1 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        let fourth = try server.client()
        try fourth.send(get("/hello"))
        #expect(try fourth.readResponse().status == 200)
    }

    @Test func textualResponsesAreGzippedForClientsThatAcceptIt() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = try server.client()
        try client.send(get("/big"))
        let plain = try client.readResponse()
        #expect(plain.header("content-encoding") == nil)
        #expect(plain.header("vary") == "Accept-Encoding")
        try client.send(get("/big", headers: "Accept-Encoding: gzip\r\n"))
        let compressed = try client.readResponse()
        #expect(compressed.header("content-encoding") == "gzip")
        #expect(compressed.header("vary") == "Accept-Encoding")
        #expect(compressed.body.starts(with: [0x1F, 0x8B]))
        #expect(compressed.body.count < plain.body.count)
        #expect(try gunzip(compressed.body) == plain.body)
        // NIO's compressor prefers deflate when both are offered with the same weight.
        try client.send(get("/big", headers: "Accept-Encoding: gzip;q=0.5, deflate;q=0.4\r\n"))
        #expect(try client.readResponse().header("content-encoding") == "gzip")
        try client.send(get("/big", headers: "Accept-Encoding: identity\r\n"))
        #expect(try client.readResponse().header("content-encoding") == nil)
        // Small and binary bodies stay as they are.
        try client.send(get("/hello", headers: "Accept-Encoding: gzip\r\n"))
        let small = try client.readResponse()
        #expect(small.header("content-encoding") == nil)
        #expect(small.bodyText == "hello")
        try client.send(get("/big-binary", headers: "Accept-Encoding: gzip\r\n"))
        let binary = try client.readResponse()
        #expect(binary.header("content-encoding") == nil)
        #expect(binary.body.count == 4096)
        // HEAD is never compressed, and the connection stays in step.
        try client.send("HEAD /big HTTP/1.1\r\nHost: t\r\nAccept-Encoding: gzip\r\n\r\n")
        let head = try client.readResponse(bodyless: true)
        #expect(head.header("content-length") == String(plain.body.count))
        try client.send(get("/hello"))
        #expect(try client.readResponse().bodyText == "hello")
    }

    @Test func problemsAndErrorsFromTheResponderBecomeProblemResponses() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = try server.client()
        try client.send(get("/problem"))
        let problem = try client.readResponse()
        #expect(problem.status == 418)
        #expect(problem.header("retry-after") == "5")
        let json = try JSONParser.parse(problem.body)
        #expect(
            json
                == [
                    "type": "urn:fibd:problem:teapot", "title": "I'm a teapot", "status": 418,
                    "detail": "short and \"stout\"", "spout": 1, "handle": ["left", nil],
                ]
        )
        try client.send(get("/error"))
        let failure = try client.readResponse()
        #expect(failure.status == 500)
        #expect(try problemSlug(failure) == "internal-error")
        // The connection survives both.
        try client.send(get("/hello"))
        #expect(try client.readResponse().status == 200)
    }

    @Test func responsesCompletedOnAnotherEventLoopArrive() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = try server.client()
        for _ in 0..<5 {
            try client.send(get("/other-loop"))
            #expect(try client.readResponse().bodyText == "from another loop")
        }
    }

    @Test func closeFutureTellsTheResponderTheClientLeft() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        var client: RawHTTPClient? = try server.client()
        try client?.send(get("/hold"))
        client = nil
        #expect(client == nil)
        let closes = server.closes
        let observed = try await withTimeout(seconds: 5) {
            var iterator = closes.makeAsyncIterator()
            return await iterator.next() != nil
        }
        #expect(observed)
        // The server carries on.
        let next = try server.client()
        try next.send(get("/hello"))
        #expect(try next.readResponse().status == 200)
    }

    @Test func shutdownFinishesInFlightRequestsAndStopsAccepting() async throws {
        let server = try await TestServer.start()
        let port = server.port
        let busy = try server.client()
        let idle = try server.client()
        try idle.send(get("/hello"))
        #expect(try idle.readResponse().status == 200)
        try busy.send(get("/slow?ms=300"))
        // Drain only once the request has reached the responder.
        let slowStarts = server.slowStarts
        let started = try await withTimeout(seconds: 5) {
            var iterator = slowStarts.makeAsyncIterator()
            return await iterator.next() != nil
        }
        #expect(started)
        async let stopped: Void = server.server.shutdown(gracePeriod: .seconds(5))
        let response = try busy.readResponse()
        #expect(response.status == 200)
        #expect(response.header("connection") == "close")
        _ = try busy.readUntilClosed()
        _ = try idle.readUntilClosed()
        await stopped
        #expect(throws: RawHTTPClient.Failure.self) { try RawHTTPClient(port: port) }
        try await server.group.shutdownGracefully()
    }

    @Test func unixSocketListenerReplacesAStaleSocketAndIsGroupWritable() async throws {
        let path = "/tmp/fibd-http-test-\(getpid()).sock"
        try makeStaleSocket(at: path)
        let server = try await TestServer.start(listen: [.unix(path: path)])
        var info = stat()
        #expect(stat(path, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o660)
        #expect(server.listeners[0].address == .unix(path: path))
        let client = try RawHTTPClient(unixPath: path)
        try client.send(get("/hello"))
        #expect(try client.readResponse().bodyText == "hello")
        await server.stop()
        #expect(access(path, F_OK) != 0)
    }

    @Test func unixSocketPathHoldingARegularFileIsNotRemoved() async throws {
        let path = "/tmp/fibd-http-test-file-\(getpid())"
        let fd = open(path, O_CREAT | O_WRONLY, 0o600)
        close(fd)
        defer { unlink(path) }
        await #expect(throws: HTTPServerError.self) {
            _ = try await TestServer.start(listen: [.unix(path: path)])
        }
        #expect(access(path, F_OK) == 0)
    }

    @Test func secondListenerOnABusyPortFailsNamingTheAddress() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        do {
            _ = try await TestServer.start(listen: [.tcp(host: "127.0.0.1", port: server.port)])
            Issue.record("binding a busy port succeeded")
        } catch let error as HTTPServerError {
            #expect(error.description.contains("127.0.0.1:\(server.port)"))
        }
    }

    @Test func adoptsAnInheritedListeningSocket() async throws {
        let server = try await TestServer.start(listen: [])
        defer { Task { await server.stop() } }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        #expect(bound)
        let listener = try await server.server.adopt(listeningDescriptor: fd, name: "test.socket")
        let port = Int(UInt16(bigEndian: address.sin_port))
        #expect(listener.address == .tcp(host: "127.0.0.1", port: port))
        #expect(listener.name == "test.socket")
        let client = try RawHTTPClient(port: port)
        try client.send(get("/hello"))
        #expect(try client.readResponse().bodyText == "hello")
    }

    @Test func ipv6LoopbackListener() async throws {
        let server: TestServer
        do {
            server = try await TestServer.start(listen: [.tcp(host: "::1", port: 0)])
        } catch {
            return  // no IPv6 on this machine
        }
        defer { Task { await server.stop() } }
        #expect(server.listeners[0].description.hasPrefix("[::1]:"))
        let client = try RawHTTPClient(port: server.port, host: "::1")
        try client.send(get("/hello"))
        #expect(try client.readResponse().bodyText == "hello")
    }
}

private func makeStaleSocket(at path: String) throws {
    unlink(path)
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (index, byte) in path.utf8.enumerated() { raw[index] = byte }
    }
    let result = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
            bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
        }
    }
    close(fd)
    guard result == 0 else { throw TestFailure() }
}

/// Decompresses with the system's gzip, so the check does not trust our own stack.
private func gunzip(_ bytes: [UInt8]) throws -> [UInt8] {
    let path = "/tmp/fibd-http-test-\(getpid()).gz"
    let fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0o600)
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    defer { unlink(path) }
    guard let pipe = popen("gzip -dc \(path)", "r") else { throw TestFailure() }
    var output: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
        let count = fread(&chunk, 1, chunk.count, pipe)
        if count == 0 { break }
        output.append(contentsOf: chunk[0..<count])
    }
    guard pclose(pipe) == 0 else { throw TestFailure() }
    return output
}

/// Runs `body`, failing if it takes longer than `seconds`.
func withTimeout<T: Sendable>(seconds: Int, _ body: @escaping @Sendable () async -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        guard let first = try await group.next(), let value = first else {
            group.cancelAll()
            throw TestFailure()
        }
        group.cancelAll()
        return value
    }
}
