import NIOCore

/// What the daemon and its workers looked like at one moment, for the time-series status views.
public struct SystemSample: Sendable {
    public var seq: UInt64
    public var wallNanos: Int64
    public var daemon: DaemonFigures
    public var workers: [WorkerView]
}

/// The daemon process itself at one moment.
public struct DaemonFigures: Sendable {
    public var cpuSeconds: Double
    public var rssBytes: Int
    public var openFileDescriptors: Int
    public var connections: Int
    public var longPolls: Int
    /// How late the runtime's event loop ran the sampling job it was given.
    public var loopLagNanos: UInt64
}

/// A bounded ring of samples taken at most once a second and only while someone asks: with no status page
/// open nothing is sampled, and any number of open pages share one sample a second. Every piece of state is
/// confined to `eventLoop` (the runtime's), which is why the type can be `@unchecked Sendable`.
final class SystemSampleRing: @unchecked Sendable {
    static let capacity = 300
    static let interval = TimeAmount.seconds(1)

    private let eventLoop: any EventLoop
    private let take: (_ seq: UInt64, _ lagNanos: UInt64) -> SystemSample
    private var ring: [SystemSample] = []
    private var start = 0
    private(set) var head: UInt64 = 0
    private var lastSampleAt: NIODeadline?
    private var timer: Scheduled<Void>?
    private var nextWaiterID = 0
    private var waiters: [Int: (promise: EventLoopPromise<Void>, timeout: Scheduled<Void>)] = [:]

    init(eventLoop: any EventLoop, take: @escaping (_ seq: UInt64, _ lagNanos: UInt64) -> SystemSample) {
        self.eventLoop = eventLoop
        self.take = take
    }

    /// Samples after `cursor` (the newest `limit` without one, or when the cursor is from another run),
    /// holding an empty answer up to `wait` for the next sample.
    func read(
        after cursor: UInt64?, limit: Int, wait: TimeAmount?, requestedAt: NIODeadline,
        clientGone: EventLoopFuture<Void>?
    ) -> EventLoopFuture<(samples: [SystemSample], next: UInt64)> {
        let now = NIODeadline.now()
        if lastSampleAt.map({ now - $0 >= Self.interval }) ?? true {
            record(lagNanos: UInt64(max(0, (now - requestedAt).nanoseconds)))
        }
        guard let wait, wait > .zero, let cursor, cursor >= head else {
            return eventLoop.makeSucceededFuture(answer(after: cursor, limit: limit))
        }
        armTimer()
        nextWaiterID += 1
        let id = nextWaiterID
        let promise = eventLoop.makePromise(of: Void.self)
        let timeout = eventLoop.scheduleTask(in: wait) { self.resolve(id) }
        waiters[id] = (promise, timeout)
        clientGone?.whenComplete { _ in self.eventLoop.execute { self.resolve(id) } }
        return promise.futureResult.map { self.answer(after: cursor, limit: limit) }
    }

    /// A cursor from another run (past the head) reads as none.
    private func answer(after cursor: UInt64?, limit: Int) -> (samples: [SystemSample], next: UInt64) {
        (samples(after: cursor.flatMap { $0 <= head ? $0 : nil }, limit: limit), head)
    }

    private func samples(after cursor: UInt64?, limit: Int) -> [SystemSample] {
        let oldest = head - UInt64(ring.count)
        let from = cursor.map { max($0, oldest) } ?? max(oldest, head >= UInt64(limit) ? head - UInt64(limit) : 0)
        let count = min(Int(head - from), limit)
        let firstOffset = Int(from - oldest)
        return (0..<count).map { ring[(start + firstOffset + $0) % ring.count] }
    }

    private func record(lagNanos: UInt64) {
        lastSampleAt = .now()
        head += 1
        let sample = take(head, lagNanos)
        if ring.count < Self.capacity {
            ring.append(sample)
        } else {
            ring[start] = sample
            start = (start + 1) % ring.count
        }
    }

    /// One timer for all waiters, a second after the last sample.
    private func armTimer() {
        guard timer == nil else { return }
        let due = (lastSampleAt ?? .now()) + Self.interval
        timer = eventLoop.scheduleTask(deadline: due) {
            self.timer = nil
            self.record(lagNanos: UInt64(max(0, (NIODeadline.now() - due).nanoseconds)))
            for id in Array(self.waiters.keys) { self.resolve(id) }
        }
    }

    private func resolve(_ id: Int) {
        guard let waiter = waiters.removeValue(forKey: id) else { return }
        waiter.timeout.cancel()
        waiter.promise.succeed()
        if waiters.isEmpty {
            timer?.cancel()
            timer = nil
        }
    }

    /// Answers every held read now (used when stopping).
    func releaseAll() {
        for id in Array(waiters.keys) { resolve(id) }
    }
}
