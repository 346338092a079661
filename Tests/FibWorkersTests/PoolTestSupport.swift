import FibCore
import FibWorkers
import Foundation
import Logging
import NIOCore
import NIOPosix
import Synchronization
import Testing

/// What a pool reported, in order.
enum PoolEvent: Sendable, CustomStringConvertible {
    case ready(WorkerID, pid: Int32)
    case finished(WorkerID, job: UInt64, outcome: JobOutcome)
    case exited(WorkerID, pid: Int32, exit: WorkerExit)

    var description: String {
        switch self {
        case .ready(let id, let pid): return "ready(\(id), pid: \(pid))"
        case .finished(let id, let job, let outcome): return "finished(\(id), job: \(job), \(outcome))"
        case .exited(let id, let pid, let exit): return "exited(\(id), pid: \(pid), \(exit))"
        }
    }
}

struct PoolEventTimeout: Error, CustomStringConvertible {
    var waitingFor: String
    var description: String { "timed out waiting for \(waitingFor)" }
}

/// A pool delegate that queues the callbacks for a test to await, each wait with a timeout.
final class PoolEvents: WorkerPoolDelegate, Sendable {
    private struct Waiter {
        var id: UInt64
        var continuation: CheckedContinuation<PoolEvent?, Never>
    }

    private struct State {
        var buffered: [PoolEvent] = []
        /// Events an `expect` passed over, kept for later ones.
        var passedOver: [PoolEvent] = []
        var waiter: Waiter?
        var nextWaiterID: UInt64 = 0
        /// Every worker process this pool reported ready, for the zombie check at its close.
        var readyPIDs: [Int32] = []
    }

    private let state = Mutex(State())

    func workerReady(_ worker: WorkerID, pid: Int32) {
        state.withLock { $0.readyPIDs.append(pid) }
        record(.ready(worker, pid: pid))
    }

    /// The pids of every worker process the pool reported ready so far.
    var readyPIDs: [Int32] { state.withLock { $0.readyPIDs } }
    func jobFinished(_ worker: WorkerID, job: UInt64, outcome: JobOutcome) {
        record(.finished(worker, job: job, outcome: outcome))
    }
    func workerExited(_ worker: WorkerID, pid: Int32, exit: WorkerExit) {
        record(.exited(worker, pid: pid, exit: exit))
    }

    private func record(_ event: PoolEvent) {
        let waiter = state.withLock { state -> Waiter? in
            guard let waiter = state.waiter else {
                state.buffered.append(event)
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.continuation.resume(returning: event)
    }

    /// The next event, or nil after `timeout`.
    func next(timeout: Duration) async -> PoolEvent? {
        await withCheckedContinuation { continuation in
            let id = state.withLock { state -> UInt64? in
                if !state.buffered.isEmpty {
                    continuation.resume(returning: state.buffered.removeFirst())
                    return nil
                }
                state.nextWaiterID += 1
                state.waiter = Waiter(id: state.nextWaiterID, continuation: continuation)
                return state.nextWaiterID
            }
            guard let id else { return }
            Task {
                try? await Task.sleep(for: timeout)
                let expired = state.withLock { state -> Waiter? in
                    guard state.waiter?.id == id else { return nil }
                    defer { state.waiter = nil }
                    return state.waiter
                }
                expired?.continuation.resume(returning: nil)
            }
        }
    }

    /// The first event (in order, including ones earlier `expect`s passed over) that `match` turns
    /// into a value; throws after `timeout`.
    func expect<T>(
        _ what: String,
        timeout: Duration = .seconds(30),
        _ match: (PoolEvent) -> T?
    ) async throws -> T {
        let earlier = state.withLock { $0.passedOver }
        for (index, event) in earlier.enumerated() {
            if let value = match(event) {
                _ = state.withLock { $0.passedOver.remove(at: index) }
                return value
            }
        }
        let deadline = ContinuousClock.now + timeout
        while true {
            let left = deadline - ContinuousClock.now
            guard left > .zero, let event = await next(timeout: left) else {
                throw PoolEventTimeout(waitingFor: what)
            }
            if let value = match(event) { return value }
            state.withLock { $0.passedOver.append(event) }
        }
    }

    /// Events received and not consumed yet.
    func pending() -> [PoolEvent] {
        state.withLock { $0.passedOver + $0.buffered }
    }

    func expectReady(_ worker: WorkerID? = nil, timeout: Duration = .seconds(30)) async throws -> (WorkerID, Int32) {
        try await expect("ready(\(worker.map(String.init) ?? "any"))", timeout: timeout) { event in
            guard case .ready(let id, let pid) = event, worker == nil || worker == id else { return nil }
            return (id, pid)
        }
    }

    func expectFinished(job: UInt64, timeout: Duration = .seconds(60)) async throws -> (WorkerID, JobOutcome) {
        try await expect("finished(job \(job))", timeout: timeout) { event in
            guard case .finished(let id, job, let outcome) = event else { return nil }
            return (id, outcome)
        }
    }

    func expectExited(pid: Int32, timeout: Duration = .seconds(30)) async throws -> (WorkerID, WorkerExit) {
        try await expect("exited(pid \(pid))", timeout: timeout) { event in
            guard case .exited(let id, pid, let exit) = event else { return nil }
            return (id, exit)
        }
    }
}

/// A pool on its own event loop, with its events, shut down by `close()`.
struct PoolHarness {
    let group: MultiThreadedEventLoopGroup
    let loop: any EventLoop
    let pool: WorkerPool
    let events: PoolEvents

    init(count: Int, executable: String? = nil) async throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        loop = group.next()
        let logger = Logger(label: "fibd.workers.test") { _ in SwiftLogNoOpLogHandler() }
        let pool = WorkerPool(count: count, executable: try executable ?? fibdBinary(), eventLoop: loop, logger: logger)
        let events = PoolEvents()
        self.pool = pool
        self.events = events
        try await loop.submit {
            pool.delegate = events
            pool.start()
        }.get()
    }

    /// Runs `body` on the pool's loop.
    func onLoop<T: Sendable>(_ body: @escaping @Sendable (WorkerPool) -> T) async throws -> T {
        let pool = self.pool
        return try await loop.submit { body(pool) }.get()
    }

    func run(_ job: Job, on worker: WorkerID) async throws {
        try await onLoop { $0.start(job, on: worker) }
    }

    func snapshot() async throws -> [WorkerInfo] {
        try await onLoop { $0.snapshot() }
    }

    /// Shuts the pool down (within a timeout) and checks that it left none of its workers as a
    /// zombie. Only this pool's workers count: other tests' pools run side by side in this
    /// process, and their exiting workers are zombies for a moment before their pool reaps them.
    func close() async throws {
        let pool = self.pool
        let stopped = loop.flatSubmit { pool.shutdown() }
        try await withTimeout(.seconds(30), "pool shutdown") { try await stopped.get() }
        try await group.shutdownGracefully()
        let zombies = zombieChildren(among: events.readyPIDs)
        #expect(zombies.isEmpty, "zombie workers: \(zombies)")
    }
}

/// Runs `body`, throwing if it takes longer than `timeout`.
func withTimeout<T: Sendable>(
    _ timeout: Duration,
    _ what: String,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw PoolEventTimeout(waitingFor: what)
        }
        return value
    }
}

/// The fibd binary the pools spawn: $FIBD_BINARY, else `fibd` next to the test bundle.
func fibdBinary() throws -> String {
    if let path = ProcessInfo.processInfo.environment["FIBD_BINARY"], !path.isEmpty {
        return path
    }
    var candidates: [URL] = []
    if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
        candidates.append(URL(fileURLWithPath: exe).deletingLastPathComponent())
    }
    for argument in CommandLine.arguments where argument.contains(".xctest") {
        var url = URL(fileURLWithPath: argument)
        while url.path != "/" && !url.lastPathComponent.hasSuffix(".xctest") {
            url.deleteLastPathComponent()
        }
        candidates.append(url.deletingLastPathComponent())
    }
    for directory in candidates {
        let path = directory.appendingPathComponent("fibd").path
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    throw FibdBinaryMissing(searched: candidates.map(\.path))
}

struct FibdBinaryMissing: Error, CustomStringConvertible {
    var searched: [String]
    var description: String {
        "no fibd binary: build it (swift build --product fibd) or set FIBD_BINARY; searched \(searched)"
    }
}

/// Those of `pids` that are zombie children of this process (exited, not reaped).
func zombieChildren(among pids: [Int32]) -> [Int32] {
    let me = getpid()
    return pids.filter { pid in
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 && fields[0] == "Z" && Int32(fields[1]) == me
    }
}

/// The state letter of /proc/<pid>/stat (R, S, Z, ...), nil once the process is gone.
func processState(_ pid: Int32) -> Character? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return nil }
    return stat[stat.index(after: close)...].split(separator: " ").first?.first
}

/// Whether `pid` names no process at all (not even a zombie).
func processIsGone(_ pid: Int32) -> Bool {
    Glibc.kill(pid, 0) == -1 && errno == ESRCH
}

/// Waits (polling /proc, within `timeout`) until `pid` has used some CPU time: it is computing.
func awaitComputing(_ pid: Int32, timeout: Duration = .seconds(10)) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if let sample = ProcessSample.read(pid: pid), sample.cpuSeconds >= 0.05 { return }
        try await Task.sleep(for: .milliseconds(5))
    }
    throw PoolEventTimeout(waitingFor: "pid \(pid) to start computing")
}

extension JobOutcome {
    var digits: String? {
        guard case .success(let result) = self else { return nil }
        return String(decoding: result.digits, as: UTF8.self)
    }

    var failureMessage: String? {
        guard case .failure(let message) = self else { return nil }
        return message
    }
}
