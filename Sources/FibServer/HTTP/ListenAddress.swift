/// Where the server listens: a TCP host and port, or a Unix domain socket path.
public enum ListenAddress: Sendable, Hashable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    /// The longest path `sockaddr_un` can hold on Linux (108 bytes including the NUL).
    public static let maxUnixPathBytes = 107

    /// Parses `127.0.0.1:8787`, `[::1]:8787`, `localhost:80` or `unix:/run/fibd.sock`.
    public init(parsing text: String) throws(ListenAddressError) {
        if text.hasPrefix("unix:") {
            let path = String(text.dropFirst("unix:".count))
            guard !path.isEmpty else {
                throw ListenAddressError(text, "missing socket path after unix:, as in unix:/run/fibd.sock")
            }
            guard path.utf8.count <= Self.maxUnixPathBytes else {
                throw ListenAddressError(
                    text,
                    "socket path is \(path.utf8.count) bytes; the limit is \(Self.maxUnixPathBytes)"
                )
            }
            self = .unix(path: path)
            return
        }
        let host: Substring
        let portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else {
                throw ListenAddressError(text, "missing ']' after the IPv6 address, as in [::1]:8787")
            }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else {
                throw ListenAddressError(text, "missing port after ']', as in [::1]:8787")
            }
            portText = rest.dropFirst()
            guard host.contains(":") else {
                throw ListenAddressError(text, "brackets are only for IPv6 addresses, as in [::1]:8787")
            }
        } else {
            guard let colon = text.lastIndex(of: ":") else {
                throw ListenAddressError(
                    text, "expected HOST:PORT (127.0.0.1:8787, [::1]:8787) or unix:PATH")
            }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
            if host.contains(":") {
                throw ListenAddressError(text, "put an IPv6 address in brackets, as in [::1]:8787")
            }
        }
        guard !host.isEmpty else {
            throw ListenAddressError(
                text, "missing host; use 0.0.0.0 or [::] to listen on every interface")
        }
        guard !portText.isEmpty,
            portText.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
            let port = Int(portText), port <= 65535
        else {
            throw ListenAddressError(text, "port must be a number from 0 to 65535 (0 picks a free port)")
        }
        self = .tcp(host: String(host), port: port)
    }

    public var description: String {
        switch self {
        case .tcp(let host, let port):
            return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path):
            return "unix:\(path)"
        }
    }
}

/// A listen address that could not be parsed; the message says what to write instead.
public struct ListenAddressError: Error, Sendable, Equatable, CustomStringConvertible {
    public let text: String
    public let reason: String

    init(_ text: String, _ reason: String) {
        self.text = text
        self.reason = reason
    }

    public var description: String { "invalid listen address '\(text)': \(reason)" }
}
