import Dispatch
import FibCore
import FibServer
import FibSystemd
import FibWorkers
import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// The version fibd reports in /api/v1/status and `--version`.
let fibdVersion = "0.1.0"

/// How long every worker of the first pool may take to answer before start-up fails.
let workerStartTimeout: TimeAmount = .seconds(60)

/// The daemon: wires the worker pool, the scheduler's runtime and the HTTP server together, tells
/// systemd how it goes (sd_notify), reloads on SIGHUP, and on SIGTERM or SIGINT drains and stops in order.
struct Daemon {
    var configuration: Configuration
    /// The command line and environment it was started with: a reload reads the same sources again.
    var arguments: [String]
    var environment: [String: String]

    /// Runs the daemon; the result is the process's exit status.
    func run() async -> Int32 {
        let threshold = LogThreshold(configuration.logLevel)
        bootstrapLogging(identifier: "fibd", threshold: threshold, environment: environment)
        let logger = Logger(label: "fibd")
        let notifier = ServiceNotifier(environment: environment)

        /// A start-up error: logged, and told to systemd as ERRNO= so `systemctl status` shows it.
        func fail(_ message: Logger.Message, errno code: Int32, status: Int32 = 1) -> Int32 {
            logger.critical(message)
            notifier.send(.status("failed: \(message)"), .errno(code))
            return status
        }

        // Read (and take out of the environment) the inherited sockets before anything starts a process.
        let inherited: [InheritedListener]
        do {
            inherited = try SocketActivation.inheritedListeners()
        } catch {
            return fail("\(error)", errno: -error.code)
        }
        let listen: [ListenAddress]
        do {
            listen = inherited.isEmpty ? try configuration.listen.map { try ListenAddress(parsing: $0) } : []
        } catch {
            return fail("bad listen address: \(error)", errno: EINVAL, status: 2)
        }

        raiseOpenFileLimit(maxConnections: configuration.maxConnections, logger: logger)

        // A token file that cannot be used stops fibd: it must never serve open when asked to guard.
        let access: AccessPolicy
        do {
            access = try AccessToken.policy(configuration: configuration, environment: environment)
        } catch {
            return fail("\(error)", errno: EACCES, status: 2)
        }
        logAccess(access, listen: configuration.listen, inherited: !inherited.isEmpty, logger: logger)

        // Signals become values before any can arrive: a SIGHUP during start-up must not kill fibd.
        let signals = SignalWatcher(signals: [SIGTERM, SIGINT, SIGHUP])

        // The state is read before anything starts: a database fibd cannot use stops it here, untouched.
        let state: OpenedState
        do {
            state = try OpenedState.open(configuration: configuration, environment: environment)
        } catch {
            return fail("\(error)", errno: EIO)
        }

        let workerCount = configuration.workerCount
        // One event loop serves the sockets, runs the scheduler and talks to the workers: every request needs the
        // scheduler, so a second loop only adds a thread hop (a wake-up of 20-60 µs) to each answer, and the CPUs
        // belong to the workers. Measured on 2 vCPUs: F(1) submit-and-await used 295 µs of daemon CPU a request
        // against 378 µs with a loop per CPU, 64 clients 216 against 243 µs.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let runtime = TaskRuntime(
            limits: configuration.limits, workers: workerCount, eventLoop: loop, logger: logger, store: state.store,
            restoring: state.stored)
        logRestore(runtime.restored, path: state.store.path, logger: logger)
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
        api.apply(access)
        api.pages = PageServer(directory: configuration.wwwDirectory)

        // The heartbeat runs on the scheduler's loop: if that loop is stuck, systemd restarts fibd.
        let watchdog = Watchdog.intervalFromEnvironment().map { interval in
            Watchdog(interval: interval, eventLoop: loop) { notifier.send(.watchdog) }
        }
        watchdog?.start()

        loop.execute { pool.start() }
        do {
            if inherited.isEmpty {
                for listener in try await server.start() {
                    logger.info("listening on \(listener.address)")
                }
            } else {
                for socket in inherited {
                    let listener = try await server.adopt(listeningDescriptor: socket.descriptor, name: socket.name)
                    logger.info(
                        "listening on \(listener.address) (inherited)",
                        metadata: ["fd": "\(socket.descriptor)", "fd_name": "\(socket.name)"])
                }
            }
        } catch {
            watchdog?.stop()
            await stop(pool: pool, runtime: runtime, group: group, loop: loop, store: state.store)
            return fail("cannot listen: \(error)", errno: EADDRNOTAVAIL)
        }
        logger.info("starting \(workerCount) workers")
        let workersAnswered = loop.makePromise(of: Void.self)
        let startTimer = loop.scheduleTask(in: workerStartTimeout) {
            workersAnswered.fail(WorkerStartTimeout())
        }
        runtime.ready.cascade(to: workersAnswered)
        do {
            try await workersAnswered.futureResult.get()
            startTimer.cancel()
        } catch {
            watchdog?.stop()
            await server.shutdown(gracePeriod: .seconds(1))
            await stop(pool: pool, runtime: runtime, group: group, loop: loop, store: state.store)
            return fail(
                "workers did not start within \(workerStartTimeout.nanoseconds / 1_000_000_000) s", errno: ETIMEDOUT)
        }
        // The reporter holds one long-poll; outside systemd it only runs to log task starts at debug level.
        let reporter = PoolStatusReporter(runtime: runtime, notifier: notifier, logger: logger)
        let reporting = Task {
            await reporter.run(enabled: notifier.isEnabled || threshold.level <= .debug)
        }
        notifier.send(.ready, .status(PoolStatus(workers: workerCount, running: 0, queued: 0, done: 0).text))
        logger.info("fibd is ready", metadata: ["workers": "\(workerCount)"])

        var current = configuration
        var signal = await signals.next()
        while signal == SIGHUP {
            current = await reload(
                from: current, pool: pool, runtime: runtime, api: api,
                threshold: threshold, notifier: notifier, logger: logger)
            signal = await signals.next()
        }

        let drainTimeout = TimeAmount.nanoseconds(Int64(min(current.drainTimeoutNanos, UInt64(Int64.max))))
        notifier.send(.stopping, .status("stopping: finishing running tasks"))
        logger.notice(
            "stopping",
            metadata: ["signal": "\(signalName(signal))", "drain_timeout_usec": "\(drainTimeout.nanoseconds / 1000)"])
        _ = try? await runtime.beginDraining().get()
        await server.stopAccepting()
        _ = try? await runtime.drained(timeout: drainTimeout).get()
        reporting.cancel()
        _ = try? await runtime.releaseWaiters().get()
        // The reporter may have begun one more long-poll just as it was cancelled: answer that one too.
        for _ in 0..<200 where !reporter.isFinished {
            _ = try? await runtime.releaseWaiters().get()
            try? await Task.sleep(for: .milliseconds(10))
        }
        await server.shutdown(gracePeriod: .seconds(5))
        watchdog?.stop()
        await stop(pool: pool, runtime: runtime, group: group, loop: loop, store: state.store)
        // The pool holds its delegate weakly.
        withExtendedLifetime(runtime) {}
        logger.info("stopped")
        return 0
    }

    /// Reads the configuration again from the sources of the start and applies what can change
    /// while running: the pool size (busy workers finish their task first), the scheduler's limits
    /// and the log level. A configuration that does not load is logged and the running one kept.
    /// - Returns: the configuration now in force.
    private func reload(
        from current: Configuration, pool: WorkerPool, runtime: TaskRuntime,
        api: APIResponder,
        threshold: LogThreshold, notifier: ServiceNotifier, logger: Logger
    ) async -> Configuration {
        notifier.send(.reloading(monotonicMicroseconds: monotonicMicroseconds()), .status("reloading configuration"))
        logger.info("reloading configuration", metadata: ["signal": "SIGHUP"])
        var applied = current
        do {
            guard case .run(let fresh) = try Configuration.load(arguments: arguments, environment: environment) else {
                throw ConfigurationError(description: "the command line no longer asks to run the daemon")
            }
            // Read first: a token file that became unusable fails the reload and keeps the running token.
            let access = try AccessToken.policy(configuration: fresh, environment: environment)
            let workers = fresh.workerCount
            try await runtime.eventLoop.flatSubmit {
                runtime.workersLeaving(pool.resize(to: workers))
                return runtime.apply(fresh.limits, workers: workers)
            }.get()
            api.apply(fresh.limits)
            api.apply(access)
            threshold.level = fresh.logLevel
            let fixed = current.settingsNeedingRestart(comparedWith: fresh)
            if !fixed.isEmpty {
                logger.warning("these settings take effect only at the next start: \(fixed.joined(separator: ", "))")
            }
            applied = fresh
            applied.listen = current.listen
            logger.notice("configuration reloaded", metadata: ["workers": "\(workers)"])
        } catch {
            logger.error("reload failed", metadata: ["error": "\(error)", "message_id": "\(FibdMessageID.reload)"])
        }
        let counters = (try? await runtime.snapshot().get())?.counters ?? SchedulerCounters()
        let status = PoolStatus(
            workers: applied.workerCount, running: counters.running, queued: counters.queued, done: counters.done)
        notifier.send(.ready, .status(status.text))
        return applied
    }

    private func stop(
        pool: WorkerPool, runtime: TaskRuntime, group: MultiThreadedEventLoopGroup, loop: any EventLoop,
        store: any TaskStore
    ) async {
        _ = try? await loop.flatSubmit { pool.shutdown() }.get()
        // The workers' exits (and a task a killed worker leaves queued) changed the state: written before the close.
        _ = try? await runtime.writePending().get()
        // Before the loops stop: the store's last completions run on them.
        store.close(timeoutNanos: OpenedState.closeTimeoutNanos)
        try? await group.shutdownGracefully()
    }
}

/// Lifts the soft limit on open files to the hard one: shells often start with 1024, which would cap the
/// connections far below --max-connections (accepts past it fail with EMFILE). Warns if even the hard limit
/// is too low.
func raiseOpenFileLimit(maxConnections: Int, logger: Logger) {
    let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    var limit = rlimit()
    guard getrlimit(resource, &limit) == 0 else { return }
    // The kernel refuses more than fs.nr_open (1048576 by default) even when the hard limit is infinite.
    let wanted = min(limit.rlim_max, 1 << 20)
    if limit.rlim_cur < wanted {
        var raised = limit
        raised.rlim_cur = wanted
        if setrlimit(resource, &raised) == 0 { limit = raised }
    }
    // Room for the listeners, the workers' sockets, the database and the journal.
    let needed = rlim_t(maxConnections) + 256
    if limit.rlim_cur < needed {
        let usable = limit.rlim_cur - min(limit.rlim_cur, 256)
        logger.warning(
            "the open file limit (\(limit.rlim_cur)) leaves room for about \(usable) connections, below --max-connections",
            metadata: ["max_connections": "\(maxConnections)"])
    }
}

/// Says what the token guards, and warns when fibd listens beyond loopback with no token.
func logAccess(_ access: AccessPolicy, listen: [String], inherited: Bool, logger: Logger) {
    if access.token != nil {
        logger.info("bearer token required", metadata: ["token_scope": "\(access.scope.rawValue)"])
        return
    }
    let exposed = inherited ? [] : listen.filter { !isLoopbackOrLocal($0) }
    if !exposed.isEmpty {
        let addresses = exposed.joined(separator: ", ")
        logger.warning(
            "listening beyond loopback with no --token-file: anyone who reaches \(addresses) can submit and cancel")
    }
}

/// Whether a listen address is reachable from this machine only (loopback or a unix socket).
func isLoopbackOrLocal(_ address: String) -> Bool {
    address.hasPrefix("unix:") || address.hasPrefix("127.") || address.hasPrefix("[::1]:")
        || address.hasPrefix("localhost:")
}

/// The first pool did not answer in time.
struct WorkerStartTimeout: Error {}

extension Configuration {
    /// The pool size: the configured one, or one worker per usable CPU.
    var workerCount: Int { workers > 0 ? workers : usableCPUCount() }

    /// The settings that differ in `other` but that a running daemon cannot change.
    func settingsNeedingRestart(comparedWith other: Configuration) -> [String] {
        var names: [String] = []
        if listen != other.listen { names.append("listen") }
        if stateDirectory != other.stateDirectory { names.append("state-dir") }
        if wwwDirectory != other.wwwDirectory { names.append("www") }
        if maxBody != other.maxBody { names.append("max-body") }
        if maxWaitNanos != other.maxWaitNanos { names.append("max-wait") }
        if maxConnections != other.maxConnections { names.append("max-connections") }
        if idleTimeoutNanos != other.idleTimeoutNanos { names.append("idle-timeout") }
        if headerTimeoutNanos != other.headerTimeoutNanos { names.append("header-timeout") }
        return names
    }
}

/// Sends every log message to journald when stderr is the journal stream, else to stderr.
func bootstrapLogging(identifier: String, threshold: LogThreshold, environment: [String: String]) {
    let destination = LogDestination.detect(environment: environment)
    LoggingSystem.bootstrap { _ in
        switch destination {
        case .journal:
            return JournalLogHandler(identifier: identifier, threshold: threshold)
        case .standardError(let style):
            return StandardErrorLogHandler(style: style, threshold: threshold)
        }
    }
}

/// Delivers SIGTERM, SIGINT and SIGHUP as async values instead of their default actions.
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
