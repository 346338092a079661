import NIOCore

/// Limits and addresses of the HTTP server; defaults are those of the fibd command line.
public struct HTTPServerConfiguration: Sendable {
    public var listen: [ListenAddress]
    /// Largest request body accepted; larger ones get 413 `body-too-large` and the connection closes.
    public var maxBodyBytes: Int
    /// Largest request header block (names and values); larger gets 431 `headers-too-large`.
    public var maxHeaderBytes: Int
    /// Open connections beyond this are closed as soon as they are accepted.
    public var maxConnections: Int
    /// A keep-alive connection with no request in flight is closed after this long.
    public var idleTimeout: TimeAmount
    /// A request head must arrive within this long of the connection opening or of its first
    /// byte, else 408 `request-timeout` and close.
    public var headerTimeout: TimeAmount
    /// Textual responses at least this large are gzip-compressed for clients that accept it.
    public var compressionMinimumBytes: Int
    /// Pending connections the kernel queues for each listener.
    public var backlog: Int32

    public init(
        listen: [ListenAddress] = [.tcp(host: "127.0.0.1", port: 8787)],
        maxBodyBytes: Int = 1 << 20,
        maxHeaderBytes: Int = 16 << 10,
        maxConnections: Int = 16384,
        idleTimeout: TimeAmount = .seconds(75),
        headerTimeout: TimeAmount = .seconds(10),
        compressionMinimumBytes: Int = 1024,
        backlog: Int32 = 1024
    ) {
        self.listen = listen
        self.maxBodyBytes = maxBodyBytes
        self.maxHeaderBytes = maxHeaderBytes
        self.maxConnections = maxConnections
        self.idleTimeout = idleTimeout
        self.headerTimeout = headerTimeout
        self.compressionMinimumBytes = compressionMinimumBytes
        self.backlog = backlog
    }
}
