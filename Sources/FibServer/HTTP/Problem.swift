import NIOCore
import NIOHTTP1

/// An error that the server answers with a problem (a responder's error from a layer that knows nothing
/// of HTTP), instead of 500 `internal-error`.
public protocol ProblemConvertible: Error {
    var problem: Problem { get }
}

/// An RFC 9457 problem: the one shape every fibd error response has.
/// `type` is `urn:fibd:problem:<slug>`; extension members follow the standard ones.
/// Throw it (or fail a responder's future with it) to answer with it.
public struct Problem: Error, Sendable, CustomStringConvertible {
    public var slug: String
    public var title: String
    public var status: HTTPResponseStatus
    public var detail: String
    public var extensions: [(String, JSONValue)]
    /// Extra response headers, such as `Retry-After` or `Allow`.
    public var headers: HTTPHeaders

    public init(
        slug: String,
        title: String? = nil,
        status: HTTPResponseStatus,
        detail: String,
        extensions: [(String, JSONValue)] = [],
        headers: HTTPHeaders = [:]
    ) {
        self.slug = slug
        self.title = title ?? status.reasonPhrase
        self.status = status
        self.detail = detail
        self.extensions = extensions
        self.headers = headers
    }

    public static let typePrefix = "urn:fibd:problem:"

    public var type: String { Self.typePrefix + slug }

    public var description: String { "\(status.code) \(slug): \(detail)" }

    /// Writes the problem object (`type`, `title`, `status`, `detail`, then the extensions).
    public func write(to writer: inout JSONWriter) {
        writer.beginObject()
        writer.member("type", type)
        writer.member("title", title)
        writer.member("status", Int(status.code))
        writer.member("detail", detail)
        for (name, value) in extensions {
            writer.key(name)
            writer.value(value)
        }
        writer.endObject()
    }

    /// The `application/problem+json` response.
    public func response(allocator: ByteBufferAllocator) -> HTTPResponse {
        var writer = JSONWriter(allocator: allocator, capacity: 128 + detail.utf8.count)
        write(to: &writer)
        var responseHeaders = HTTPResponse.headers(contentType: "application/problem+json")
        responseHeaders.add(contentsOf: headers)
        return HTTPResponse(status: status, headers: responseHeaders, body: writer.buffer)
    }
}

extension Problem {
    /// Malformed HTTP or an unusable request target.
    public static func badRequest(_ detail: String) -> Problem {
        Problem(slug: "bad-request", status: .badRequest, detail: detail)
    }

    public static func bodyTooLarge(limit: Int) -> Problem {
        Problem(
            slug: "body-too-large",
            title: "Content Too Large",
            status: .payloadTooLarge,
            detail: "the request body is larger than the limit of \(limit) bytes",
            extensions: [("limit", .number(JSONNumber(limit)))]
        )
    }

    public static func headersTooLarge(limit: Int) -> Problem {
        Problem(
            slug: "headers-too-large",
            status: .requestHeaderFieldsTooLarge,
            detail: "the request header fields are larger than the limit of \(limit) bytes",
            extensions: [("limit", .number(JSONNumber(limit)))]
        )
    }

    public static func requestTimeout(_ detail: String) -> Problem {
        Problem(slug: "request-timeout", status: .requestTimeout, detail: detail)
    }

    /// A failure the server did not expect; the detail never leaks internals.
    public static let internalError = Problem(
        slug: "internal-error",
        status: .internalServerError,
        detail: "the server failed to answer this request; the error is in its log"
    )
}
