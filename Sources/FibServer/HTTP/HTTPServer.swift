import Glibc
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// A listener the server has bound, with its real address (port 0 resolved to the chosen port).
public struct BoundListener: Sendable, CustomStringConvertible {
    public let address: ListenAddress
    /// The name it was requested or adopted under (for example `127.0.0.1:0` or `fibd.socket`).
    public let name: String

    public var description: String { address.description }
}

/// Why the server could not start listening.
public struct HTTPServerError: Error, Sendable, CustomStringConvertible {
    public let address: String
    public let reason: String

    public var description: String { "cannot listen on \(address): \(reason)" }
}

/// The HTTP/1.1 server: keep-alive, pipelining, limits, timeouts, gzip and problem+json
/// infrastructure errors, in front of one `HTTPResponder`.
public final class HTTPServer: Sendable {
    public let configuration: HTTPServerConfiguration
    public let metrics: HTTPMetrics
    private let group: any EventLoopGroup
    private let responder: any HTTPResponder
    private let logger: Logger
    private let tracker: ConnectionTracker
    private let listeners = Mutex<[(channel: any Channel, unixPath: String?)]>([])
    private let settings: HTTPConnectionSettings
    private let loops: EventLoopConnectionsRegistry

    public init(
        configuration: HTTPServerConfiguration,
        group: any EventLoopGroup,
        responder: any HTTPResponder,
        logger: Logger
    ) {
        self.configuration = configuration
        self.group = group
        self.responder = responder
        self.logger = logger
        let metrics = HTTPMetrics()
        self.metrics = metrics
        self.tracker = ConnectionTracker(
            maxConnections: configuration.maxConnections, metrics: metrics, logger: logger)
        self.settings = HTTPConnectionSettings(
            configuration: configuration, responder: responder, metrics: metrics, logger: logger)
        self.loops = EventLoopConnectionsRegistry(
            headerTimeout: configuration.headerTimeout, idleTimeout: configuration.idleTimeout)
    }

    /// Binds every configured address. If one fails, those already bound are closed and the
    /// error names the address.
    public func start() async throws -> [BoundListener] {
        var bound: [BoundListener] = []
        do {
            for address in configuration.listen {
                bound.append(try await bind(address))
            }
        } catch {
            await closeListeners()
            throw error
        }
        return bound
    }

    /// Serves on an already listening socket, such as one passed by systemd socket activation.
    /// The server owns the descriptor from now on.
    public func adopt(listeningDescriptor: CInt, name: String) async throws -> BoundListener {
        do {
            let isUnix = Self.socketFamily(of: listeningDescriptor) == sa_family_t(AF_UNIX)
            let channel = try await makeBootstrap(tcp: !isUnix).withBoundSocket(listeningDescriptor).get()
            listeners.withLock { $0.append((channel, nil)) }
            return BoundListener(
                address: Self.listenAddress(of: channel, fallback: .unix(path: name)), name: name)
        } catch {
            throw HTTPServerError(address: name, reason: "\(error)")
        }
    }

    /// Stops accepting new connections and keeps serving the open ones (the first step of a drain).
    /// Inherited listeners are only closed, never shut down: the service manager keeps its copy and
    /// queues new connections for the next start.
    public func stopAccepting() async {
        await closeListeners()
    }

    /// Stops accepting, lets in-flight requests finish (answered with `Connection: close`),
    /// closes idle connections at once and, after `gracePeriod`, whatever is still open.
    public func shutdown(gracePeriod: TimeAmount = .seconds(30)) async {
        await closeListeners()
        let loop = group.next()
        let drained = loop.makePromise(of: Void.self)
        let forceClose = loop.scheduleTask(in: gracePeriod) { [tracker] in tracker.closeAll() }
        tracker.drain(drained: drained)
        try? await drained.futureResult.get()
        forceClose.cancel()
    }

    private func closeListeners() async {
        let closing = listeners.withLock { current in
            defer { current.removeAll() }
            return current
        }
        for listener in closing {
            try? await listener.channel.close()
            if let path = listener.unixPath { unlink(path) }
        }
    }

    private func bind(_ address: ListenAddress) async throws -> BoundListener {
        do {
            switch address {
            case .tcp(let host, let port):
                let channel = try await makeBootstrap(tcp: true).bind(host: host, port: port).get()
                listeners.withLock { $0.append((channel, nil)) }
                return BoundListener(
                    address: Self.listenAddress(of: channel, fallback: address), name: "\(address)")
            case .unix(let path):
                let channel = try await makeBootstrap(tcp: false)
                    .bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true).get()
                listeners.withLock { $0.append((channel, path)) }
                if chmod(path, 0o660) != 0 {
                    throw HTTPServerError(address: "\(address)", reason: "chmod 0660 failed: errno \(errno)")
                }
                return BoundListener(address: address, name: "\(address)")
            }
        } catch let error as HTTPServerError {
            throw error
        } catch {
            throw HTTPServerError(address: "\(address)", reason: "\(error)")
        }
    }

    private static func socketFamily(of descriptor: CInt) -> sa_family_t? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        return result == 0 ? storage.ss_family : nil
    }

    private static func listenAddress(of channel: any Channel, fallback: ListenAddress)
        -> ListenAddress
    {
        guard let local = channel.localAddress else { return fallback }
        if let path = local.pathname { return .unix(path: path) }
        if let ip = local.ipAddress, let port = local.port { return .tcp(host: ip, port: port) }
        return fallback
    }

    private func makeBootstrap(tcp: Bool) -> ServerBootstrap {
        let configuration = configuration
        let tracker = tracker
        let settings = settings
        let loops = loops
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: configuration.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelOption(.allowRemoteHalfClosure, value: false)
            // Each connection keeps its last receive buffer for reuse (NIO's pool never lets it
            // go), so the first one is small: a long-poll's head is under 100 bytes. The buffer
            // grows on full reads, so larger requests take a few more reads on a new connection.
            .childChannelOption(
                .recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 128, maximum: 65536))
        if tcp {
            bootstrap = bootstrap.childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
        }
        return bootstrap.childChannelInitializer { channel in
            guard tracker.admit(channel) else {
                return channel.close()
            }
            return channel.eventLoop.makeCompletedFuture {
                let handler = HTTPConnectionHandler(
                    settings: settings, loopConnections: loops.connections(of: channel.eventLoop))
                try channel.pipeline.syncOperations.addHandler(handler)
            }
        }
    }
}
