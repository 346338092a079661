import Logging
import NIOCore
import Synchronization

/// Knows every open connection of one server: admits new ones up to `maxConnections`, and on
/// shutdown asks each to finish its request and close (the quiescing of NIO's
/// `ServerQuiescingHelper`, plus the connection limit).
final class ConnectionTracker: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var draining = false
        var drained: EventLoopPromise<Void>?
    }

    private let state = Mutex(State())
    private let maxConnections: Int
    private let metrics: HTTPMetrics
    private let logger: Logger
    private let rejectionLog: RateLimitedLog

    init(maxConnections: Int, metrics: HTTPMetrics, logger: Logger) {
        self.maxConnections = maxConnections
        self.metrics = metrics
        self.logger = logger
        self.rejectionLog = RateLimitedLog(interval: .seconds(1))
    }

    /// Registers a newly accepted connection, or returns `false` if it must be closed at once.
    func admit(_ channel: any Channel) -> Bool {
        let id = ObjectIdentifier(channel)
        let admitted = state.withLock { state -> Bool in
            guard !state.draining, state.channels.count < maxConnections else { return false }
            state.channels[id] = channel
            return true
        }
        guard admitted else {
            metrics.connectionRejected()
            if rejectionLog.shouldLog() {
                logger.warning(
                    "closing new connections: limit reached or draining",
                    metadata: [
                        "max_connections": "\(maxConnections)",
                        "rejected_total": "\(metrics.rejectedConnections)",
                    ]
                )
            }
            return false
        }
        metrics.connectionOpened()
        channel.closeFuture.whenComplete { [self] _ in
            self.metrics.connectionClosed()
            let drained = self.state.withLock { state -> EventLoopPromise<Void>? in
                state.channels[id] = nil
                guard state.draining, state.channels.isEmpty else { return nil }
                defer { state.drained = nil }
                return state.drained
            }
            drained?.succeed()
        }
        return true
    }

    /// Stops admitting connections and asks every open one to close once its in-flight request
    /// is answered (idle ones close at once). `drained` completes when the last one has closed.
    func drain(drained: EventLoopPromise<Void>) {
        let channels = state.withLock { state -> [any Channel]? in
            state.draining = true
            if state.channels.isEmpty { return nil }
            state.drained = drained
            return Array(state.channels.values)
        }
        guard let channels else {
            drained.succeed()
            return
        }
        for channel in channels {
            channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        }
    }

    /// Closes every connection still open, mid-request or not.
    func closeAll() {
        let channels = state.withLock { Array(($0.channels.values)) }
        for channel in channels { channel.close(promise: nil) }
    }
}

/// Lets a repeated message through at most once per interval, from any thread.
final class RateLimitedLog: Sendable {
    private let intervalNanoseconds: Int64
    private let lastLogged = Mutex<NIODeadline?>(nil)

    init(interval: TimeAmount) {
        self.intervalNanoseconds = interval.nanoseconds
    }

    func shouldLog() -> Bool {
        let now = NIODeadline.now()
        return lastLogged.withLock { last in
            if let previous = last, (now - previous).nanoseconds < intervalNanoseconds { return false }
            last = now
            return true
        }
    }
}
