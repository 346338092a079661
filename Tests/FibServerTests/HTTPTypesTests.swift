import NIOCore
import NIOHTTP1
import Testing

@testable import FibServer

@Suite("HTTP types")
struct HTTPTypesTests {
    @Test func parsesListenAddresses() throws {
        #expect(try ListenAddress(parsing: "127.0.0.1:8787") == .tcp(host: "127.0.0.1", port: 8787))
        #expect(try ListenAddress(parsing: "[::1]:8787") == .tcp(host: "::1", port: 8787))
        #expect(try ListenAddress(parsing: "localhost:80") == .tcp(host: "localhost", port: 80))
        #expect(try ListenAddress(parsing: "0.0.0.0:0") == .tcp(host: "0.0.0.0", port: 0))
        #expect(try ListenAddress(parsing: "unix:/run/fibd.sock") == .unix(path: "/run/fibd.sock"))
        for text in ["127.0.0.1:8787", "[::1]:8787", "localhost:80", "unix:/run/fibd.sock"] {
            #expect(try ListenAddress(parsing: text).description == text)
        }
    }

    @Test func listenAddressErrorsSayWhatToWrite() {
        let cases: [(String, String)] = [
            ("8787", "expected HOST:PORT"),
            (":8787", "missing host"),
            ("::1:8787", "brackets"),
            ("[::1]8787", "missing port"),
            ("[::1:8787", "missing ']'"),
            ("[127.0.0.1]:80", "only for IPv6"),
            ("localhost:65536", "0 to 65535"),
            ("localhost:-1", "0 to 65535"),
            ("localhost:http", "0 to 65535"),
            ("localhost:", "0 to 65535"),
            ("unix:", "missing socket path"),
            ("unix:/" + String(repeating: "a", count: 200), "limit is 107"),
        ]
        for (text, fragment) in cases {
            do {
                _ = try ListenAddress(parsing: text)
                Issue.record("\(text) parsed")
            } catch {
                #expect(error.description.contains(fragment), "\(text): \(error)")
                #expect(error.description.contains(text))
            }
        }
    }

    @Test func queryParametersDecodeOnAccess() {
        let query = QueryParameters("state=queued,running&limit=10&empty=&flag&a+b=c%20d&state=done&bad=%zz")
        #expect(query["state"] == "queued,running")
        #expect(query.values(named: "state") == ["queued,running", "done"])
        #expect(query["limit"] == "10")
        #expect(query["empty"] == "")
        #expect(query["flag"] == "")
        #expect(query["a b"] == "c d")
        #expect(query["bad"] == "%zz")
        #expect(query["missing"] == nil)
        #expect(query.names == ["state", "limit", "empty", "flag", "a b", "state", "bad"])
        #expect(QueryParameters("").isEmpty)
    }

    @Test func requestTargetsSplitIntoPathAndQuery() throws {
        let plain = try HTTPRequest(uri: "/api/v1/tasks")
        #expect(plain.path == "/api/v1/tasks")
        #expect(plain.query.isEmpty)
        let withQuery = try HTTPRequest(uri: "/api/v1/tasks?state=queued&limit=5")
        #expect(withQuery.path == "/api/v1/tasks")
        #expect(withQuery.query["limit"] == "5")
        #expect(try HTTPRequest(uri: "/a%20b/%C3%A9?x=%2F").path == "/a b/é")
        #expect(try HTTPRequest(uri: "/a+b").path == "/a+b")
        #expect(try HTTPRequest(uri: "http://example.com/x?y=1").path == "/x")
        #expect(try HTTPRequest(uri: "http://example.com?y=1").query["y"] == "1")
        #expect(throws: Problem.self) { try HTTPRequest(uri: "/%zz") }
        #expect(throws: Problem.self) { try HTTPRequest(uri: "/%C3") }
        #expect(throws: Problem.self) { try HTTPRequest(uri: "relative") }
    }

    @Test func problemResponseIsProblemJSON() throws {
        let problem = Problem(
            slug: "queue-full",
            status: .serviceUnavailable,
            detail: "the queue holds 100000 tasks",
            extensions: [("next", 42)],
            headers: ["retry-after": "3"]
        )
        let response = problem.response(allocator: ByteBufferAllocator())
        #expect(response.status == .serviceUnavailable)
        #expect(response.headers["content-type"] == ["application/problem+json"])
        #expect(response.headers["retry-after"] == ["3"])
        #expect(
            String(buffer: response.body)
                == #"{"type":"urn:fibd:problem:queue-full","title":"Service Unavailable","status":503,"#
                + #""detail":"the queue holds 100000 tasks","next":42}"#
        )
    }

    @Test func compressibleContentTypes() {
        for type in [
            "application/json", "application/problem+json", "text/plain; version=0.0.4", "text/html; charset=utf-8",
            "text/css", "application/javascript", "image/svg+xml", "application/vnd.oai.openapi+json",
        ] {
            #expect(ResponseCompression.isCompressible(["content-type": type]), "\(type)")
        }
        for type in ["application/octet-stream", "image/png"] {
            #expect(!ResponseCompression.isCompressible(["content-type": type]), "\(type)")
        }
        #expect(!ResponseCompression.isCompressible([:]))
        #expect(!ResponseCompression.isCompressible(["content-type": "text/plain", "content-encoding": "br"]))
    }
}
