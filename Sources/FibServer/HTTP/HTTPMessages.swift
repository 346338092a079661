import NIOCore
import NIOHTTP1

/// One complete request, body included (bounded by `HTTPServerConfiguration.maxBodyBytes`).
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The request target as sent.
    public var uri: String
    /// The percent-decoded path, without the query.
    public var path: String
    public var query: QueryParameters
    public var headers: HTTPHeaders
    public var body: ByteBuffer
    public var version: HTTPVersion

    public init(
        method: HTTPMethod,
        uri: String,
        path: String,
        query: QueryParameters,
        headers: HTTPHeaders,
        body: ByteBuffer,
        version: HTTPVersion
    ) {
        self.method = method
        self.uri = uri
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.version = version
    }

    /// Builds a request from a target such as `/api/v1/tasks?state=queued`, as the server does.
    /// Throws `Problem` `bad-request` for a target that is not origin-form or absolute-form, or
    /// whose path has a malformed escape or is not UTF-8.
    public init(
        method: HTTPMethod = .GET,
        uri: String,
        headers: HTTPHeaders = [:],
        body: ByteBuffer = ByteBuffer(),
        version: HTTPVersion = .http1_1
    ) throws(Problem) {
        let (path, query) = try RequestTarget.parse(uri)
        self.init(
            method: method, uri: uri, path: path, query: query, headers: headers, body: body,
            version: version)
    }
}

/// Splits a request target into its decoded path and raw query.
enum RequestTarget {
    /// The index just past `scheme://` in an absolute-form target, if it is one.
    private static func afterScheme(_ target: Substring) -> Substring.Index? {
        guard let colon = target.firstIndex(of: ":"),
            target[colon...].hasPrefix("://"),
            target[..<colon].allSatisfy({
                $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "."
            })
        else { return nil }
        return target.index(colon, offsetBy: 3)
    }

    static func parse(_ uri: String) throws(Problem) -> (path: String, query: QueryParameters) {
        // Origin-form with no escapes and no query, the common case, shares the string.
        // Scanning the UTF-8 view avoids grapheme breaking on every request.
        if uri.utf8.first == UInt8(ascii: "/") {
            var hasEscape = false
            for byte in uri.utf8 {
                if byte == UInt8(ascii: "?") { return try split(uri[...]) }
                if byte == UInt8(ascii: "%") { hasEscape = true }
            }
            if !hasEscape { return (uri, QueryParameters(raw: "")) }
            return try split(uri[...])
        }
        if uri == "*" { return ("*", QueryParameters(raw: "")) }
        // absolute-form (RFC 9112 section 3.2.2): keep only the path and query.
        guard let afterScheme = Self.afterScheme(uri[...]) else {
            throw Problem.badRequest("the request target must start with '/'")
        }
        let afterAuthority = uri[afterScheme...]
        guard
            let pathStart = afterAuthority.utf8.firstIndex(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }
            )
        else { return ("/", QueryParameters(raw: "")) }
        let target = afterAuthority[pathStart...]
        if target.utf8.first == UInt8(ascii: "?") {
            return ("/", QueryParameters(raw: target.dropFirst()))
        }
        return try split(target)
    }

    private static func split(_ target: Substring) throws(Problem) -> (path: String, query: QueryParameters) {
        let rawPath: Substring
        let query: QueryParameters
        if let questionMark = target.utf8.firstIndex(of: UInt8(ascii: "?")) {
            rawPath = target[..<questionMark]
            query = QueryParameters(raw: target[target.utf8.index(after: questionMark)...])
        } else {
            rawPath = target
            query = QueryParameters(raw: "")
        }
        guard let path = PercentDecoding.decode(rawPath, plusAsSpace: false) else {
            throw Problem.badRequest("the request path has a malformed %-escape or is not UTF-8")
        }
        return (path, query)
    }
}

/// A complete response. The server sets `Content-Length` from the body; for `HEAD` requests
/// it sends the headers only.
public struct HTTPResponse: Sendable {
    public var status: HTTPResponseStatus
    public var headers: HTTPHeaders
    public var body: ByteBuffer

    public init(
        status: HTTPResponseStatus = .ok, headers: HTTPHeaders = [:], body: ByteBuffer = ByteBuffer()
    ) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// Headers with one content type and room for the few the server adds (length, vary,
    /// connection), so that adding them does not reallocate.
    public static func headers(contentType: String) -> HTTPHeaders {
        var headers = HTTPHeaders()
        headers.reserveCapacity(4)
        headers.add(name: "content-type", value: contentType)
        return headers
    }

    /// An `application/json` response.
    public static func json(_ status: HTTPResponseStatus = .ok, _ body: ByteBuffer) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers(contentType: "application/json"), body: body)
    }

    /// A text response, `text/plain; charset=utf-8` unless another type is given.
    public static func text(
        _ status: HTTPResponseStatus = .ok,
        _ body: ByteBuffer,
        contentType: String = "text/plain; charset=utf-8"
    ) -> HTTPResponse {
        HTTPResponse(status: status, headers: headers(contentType: contentType), body: body)
    }

    public static func text(
        _ status: HTTPResponseStatus = .ok,
        _ text: String,
        contentType: String = "text/plain; charset=utf-8"
    ) -> HTTPResponse {
        HTTPResponse(
            status: status, headers: headers(contentType: contentType), body: ByteBuffer(string: text))
    }
}
