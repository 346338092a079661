import NIOHTTP1

/// Who may call what: an optional bearer token and the requests it guards.
/// fibd listens on loopback by default; the token is for when it does not, or when local users
/// must not all be able to submit and cancel.
public struct AccessPolicy: Sendable, Equatable {
    public enum Scope: String, Sendable, CaseIterable {
        /// Every method but GET and HEAD: submits and cancels.
        case mutating
        /// Every request except the probes (GET or HEAD of /healthz and /readyz), pages included.
        case all
    }

    /// The token's bytes; nil leaves every route open.
    public var token: [UInt8]?
    public var scope: Scope

    /// No token: every route open.
    public static let open = AccessPolicy(token: nil, scope: .mutating)

    public init(token: [UInt8]?, scope: Scope) {
        self.token = token
        self.scope = scope
    }

    /// Whether a request with this method and path must carry the token.
    public func guards(method: HTTPMethod, path: String) -> Bool {
        guard token != nil else { return false }
        let isRead = method == .GET || method == .HEAD
        switch scope {
        case .mutating:
            return !isRead
        case .all:
            return !(isRead && (path == "/healthz" || path == "/readyz"))
        }
    }

    /// Nil when the request may go on; otherwise the 401 problem to answer with.
    public func check(method: HTTPMethod, path: String, headers: HTTPHeaders) -> Problem? {
        guard let token, guards(method: method, path: path) else { return nil }
        let values = headers["authorization"]
        guard values.count == 1, let presented = Self.bearerCredentials(values[0]) else {
            return .unauthorized(tokenWasSent: false)
        }
        return Self.constantTimeEquals(presented, token) ? nil : .unauthorized(tokenWasSent: true)
    }

    /// The credentials of an `Authorization: Bearer <token>` value (scheme case-insensitive, RFC 6750).
    static func bearerCredentials(_ value: String) -> [UInt8]? {
        let bytes = Array(value.utf8)
        let scheme = Array("bearer".utf8)
        guard bytes.count > scheme.count + 1,
            zip(bytes, scheme).allSatisfy({ $0 | 0x20 == $1 }),
            bytes[scheme.count] == UInt8(ascii: " ")
        else { return nil }
        let credentials = bytes[(scheme.count + 1)...].drop { $0 == UInt8(ascii: " ") }
        return credentials.isEmpty ? nil : Array(credentials)
    }

    /// Compares in time that depends only on the expected token's length, so that a client cannot
    /// learn how much of a guess was right from how long the answer took.
    @inline(never)
    static func constantTimeEquals(_ presented: [UInt8], _ expected: [UInt8]) -> Bool {
        var difference = UInt(bitPattern: presented.count ^ expected.count)
        for index in expected.indices {
            let byte = index < presented.count ? presented[index] : 0
            difference |= UInt(byte ^ expected[index])
        }
        return difference == 0
    }
}

extension Problem {
    private static let challenge = #"Bearer realm="fibd""#

    /// 401 with the challenge of RFC 6750; `invalid_token` when a token was sent but is wrong.
    static func unauthorized(tokenWasSent: Bool) -> Problem {
        Problem(
            slug: "unauthorized", title: "Unauthorized", status: .unauthorized,
            detail: tokenWasSent
                ? "the bearer token is wrong" : "this request needs 'Authorization: Bearer <token>' (see fibd(8))",
            headers: ["WWW-Authenticate": tokenWasSent ? #"Bearer realm="fibd", error="invalid_token""# : challenge])
    }
}
