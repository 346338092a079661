import Dispatch
import FibCore
import FibServer
import FibWorkers
import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// The version fibd reports in /api/v1/status and `--version`.
let fibdVersion = "0.1.0"

/// The daemon: wires the worker pool, the scheduler's runtime and the HTTP server together,
/// runs until SIGTERM or SIGINT, then drains and stops in order.
struct Daemon {
    var configuration: Configuration

    /// Runs the daemon; the result is the process's exit status.
    func run() async -> Int32 {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = configuration.logLevel
            return handler
        }
        var logger = Logger(label: "fibd")
        logger.logLevel = configuration.logLevel

        let listen: [ListenAddress]
        do {
            listen = try configuration.listen.map { try ListenAddress(parsing: $0) }
        } catch {
            logger.critical("bad listen address: \(error)")
            return 2
        }

        let workerCount = configuration.workers > 0 ? configuration.workers : usableCPUCount()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(2, System.coreCount))
        let loop = group.next()
        let runtime = TaskRuntime(
            limits: configuration.limits, workers: workerCount, eventLoop: loop, logger: logger)
        let pool = WorkerPool(count: workerCount, eventLoop: loop, logger: logger)
        pool.delegate = runtime
        runtime.pool = pool
        runtime.sampleWorkers = {
            pool.snapshot().map { info in
                WorkerSample(
                    id: info.id, pid: info.pid, state: WorkerSample.State(rawValue: info.state.rawValue) ?? .starting,
                    cpuSeconds: info.cpuSeconds ?? 0, rssBytes: Int(info.residentBytes ?? 0),
                    bytesReceived: Int(info.bytesReceived))
            }
        }

        let api = APIResponder(
            runtime: runtime,
            settings: APISettings(
                version: fibdVersion, maxWait: .nanoseconds(Int64(configuration.maxWaitNanos)),
                maxBody: configuration.maxBody),
            limits: configuration.limits)
        let server = HTTPServer(
            configuration: HTTPServerConfiguration(
                listen: listen, maxBodyBytes: configuration.maxBody, maxConnections: configuration.maxConnections,
                idleTimeout: .nanoseconds(Int64(configuration.idleTimeoutNanos)),
                headerTimeout: .nanoseconds(Int64(configuration.headerTimeoutNanos))),
            group: group, responder: api, logger: logger)
        api.httpMetrics = server.metrics
        api.pages = PageServer(directory: configuration.wwwDirectory)

        let signals = SignalWatcher(signals: [SIGTERM, SIGINT])
        loop.execute { pool.start() }
        do {
            for listener in try await server.start() {
                logger.info("listening on \(listener.address)")
            }
        } catch {
            logger.critical("cannot listen: \(error)")
            await stop(pool: pool, group: group, loop: loop)
            return 1
        }
        logger.info("starting \(workerCount) workers")
        do {
            try await runtime.ready.get()
        } catch {
            logger.critical("workers did not start: \(error)")
        }
        logger.info("fibd is ready", metadata: ["workers": "\(workerCount)"])

        let signal = await signals.next()
        logger.info("received \(signalName(signal)), draining", metadata: ["signal": "\(signal)"])
        _ = try? await runtime.beginDraining().get()
        await server.shutdown()
        _ = try? await runtime.drained(timeout: .seconds(30)).get()
        _ = try? await runtime.releaseWaiters().get()
        await stop(pool: pool, group: group, loop: loop)
        logger.info("stopped")
        return 0
    }

    private func stop(pool: WorkerPool, group: MultiThreadedEventLoopGroup, loop: any EventLoop) async {
        _ = try? await loop.flatSubmit { pool.shutdown() }.get()
        try? await group.shutdownGracefully()
    }
}

/// Delivers SIGTERM/SIGINT as an async value instead of killing the process.
final class SignalWatcher {
    private let stream: AsyncStream<Int32>
    private let sources: [any DispatchSourceSignal]

    init(signals: [Int32]) {
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self, bufferingPolicy: .bufferingNewest(4))
        self.stream = stream
        self.sources = signals.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }

    /// The next signal received.
    func next() async -> Int32 {
        for await number in stream { return number }
        return SIGTERM
    }
}

/// The process environment as a dictionary, without Foundation.
func processEnvironment() -> [String: String] {
    var environment: [String: String] = [:]
    var entry = environ
    while let pointer = entry.pointee {
        let text = String(cString: pointer)
        if let equals = text.firstIndex(of: "=") {
            environment[String(text[..<equals])] = String(text[text.index(after: equals)...])
        }
        entry += 1
    }
    return environment
}

func writeStandardError(_ text: String) {
    var text = text
    text.withUTF8 { bytes in _ = write(2, bytes.baseAddress, bytes.count) }
}
