import Foundation
import Testing

@testable import FibServer

/// The connection handler's own paths: bytes that arrive in awkward pieces or while a response is
/// in flight, the shared per-loop deflate state, and the per-loop deadline sweep.
@Suite("HTTP connection handler", .serialized)
struct HTTPConnectionTests {
    @Test func requestsArrivingByteByByteAreServed() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = try server.client()
        let requests = [
            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello",
            "POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n2;x=y\r\nab\r\n1\r\nc\r\n0\r\nT: 1\r\n\r\n",
        ]
        for (request, body) in zip(requests, ["hello", "abc"]) {
            for byte in request.utf8 { try client.send([byte]) }
            let echo = try JSONParser.parse(try client.readResponse().body)
            #expect(echo["body"] == .string(body))
        }
    }

    @Test func aRequestSplitAcrossTheResponseOfItsPredecessorIsServedInTurn() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = try server.client()
        // The second request's head arrives in two pieces while the first is being answered.
        try client.send(get("/slow?ms=200") + "GET /echo?x=1 HTT")
        try await Task.sleep(for: .milliseconds(50))
        try client.send("P/1.1\r\nHost: t\r\n\r\n" + get("/hello"))
        #expect(try client.readResponse().bodyText == "slow 200")
        let echo = try JSONParser.parse(try client.readResponse().body)
        #expect(echo["query"] == [["x", "1"]])
        #expect(try client.readResponse().bodyText == "hello")
    }

    @Test func bytesAfterAClosingRequestAreIgnored() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = try server.client()
        try client.send(get("/hello", headers: "Connection: close\r\n") + get("/hello"))
        let response = try client.readResponse()
        #expect(response.header("connection") == "close")
        #expect(try client.readUntilClosed().isEmpty)
    }

    @Test func deflateAndGzipAnswersShareTheLoopsStateCorrectly() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let client = try server.client()
        try client.send(get("/big"))
        let plain = try client.readResponse().body
        for _ in 0..<2 {
            try client.send(get("/big", headers: "Accept-Encoding: gzip, deflate\r\n"))
            let deflated = try client.readResponse()
            #expect(deflated.header("content-encoding") == "deflate")
            #expect(deflated.header("content-length") == String(deflated.body.count))
            #expect(try inflate(deflated.body, gzip: false) == plain)
            try client.send(get("/big", headers: "Accept-Encoding: gzip\r\n"))
            let gzipped = try client.readResponse()
            #expect(gzipped.header("content-encoding") == "gzip")
            #expect(try inflate(gzipped.body, gzip: true) == plain)
        }
    }

    @Test func theSweepTimesOutManyConnectionsAtOnce() async throws {
        let server = try await TestServer.start { $0.headerTimeout = .milliseconds(200) }
        defer { Task { await server.stop() } }
        let clients = try (0..<40).map { _ in try server.client() }
        // Half of them served once first, so that the sweep's list holds both kinds.
        for client in clients.prefix(20) {
            try client.send(get("/hello"))
            #expect(try client.readResponse().status == 200)
            try client.send("GET /hel")
        }
        for client in clients {
            #expect(try client.readResponse().status == 408)
            _ = try client.readUntilClosed()
        }
        let deadline = ContinuousClock.now + .seconds(5)
        while server.server.metrics.openConnections > 0 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(server.server.metrics.openConnections == 0)
        #expect(server.server.metrics.responses(status: 408) == 40)
    }
}

/// Inflates a gzip or zlib stream with Python's zlib (the test machine has python3).
private func inflate(_ bytes: [UInt8], gzip: Bool) throws -> [UInt8] {
    let path = NSTemporaryDirectory() + "fibd-inflate-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    defer { try? FileManager.default.removeItem(atPath: path) }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    let windowBits = gzip ? "31" : "15"
    process.arguments = [
        "python3", "-c",
        "import sys, zlib; sys.stdout.buffer.write(zlib.decompress(open(sys.argv[1], 'rb').read(), \(windowBits)))",
        path,
    ]
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw TestFailure() }
    return [UInt8](data)
}
