import Synchronization

/// Counters of the HTTP layer, updated with relaxed atomics from every event loop and read by
/// `/metrics`. Reads are not a consistent snapshot across counters, which Prometheus tolerates.
public final class HTTPMetrics: @unchecked Sendable {
    // Safe to share: the pointer is allocated once, never reassigned, and only touched through atomics.
    private let statusCounts: UnsafeMutablePointer<Atomic<Int>>
    private static let lowestStatus = 100
    private static let statusSlots = 500

    private let openConnectionCount = Atomic<Int>(0)
    private let acceptedConnectionCount = Atomic<Int>(0)
    private let rejectedConnectionCount = Atomic<Int>(0)
    private let receivedByteCount = Atomic<Int>(0)
    private let sentByteCount = Atomic<Int>(0)

    public init() {
        statusCounts = .allocate(capacity: Self.statusSlots)
        for slot in 0..<Self.statusSlots {
            (statusCounts + slot).initialize(to: Atomic(0))
        }
    }

    deinit {
        statusCounts.deinitialize(count: Self.statusSlots)
        statusCounts.deallocate()
    }

    /// Responses sent with `status` (100...599).
    public func responses(status: Int) -> Int {
        let slot = status - Self.lowestStatus
        guard slot >= 0 && slot < Self.statusSlots else { return 0 }
        return statusCounts[slot].load(ordering: .relaxed)
    }

    /// Every status code that has been sent at least once, in ascending order, with its count.
    public func responsesByStatus() -> [(status: Int, count: Int)] {
        var result: [(status: Int, count: Int)] = []
        for slot in 0..<Self.statusSlots {
            let count = statusCounts[slot].load(ordering: .relaxed)
            if count > 0 { result.append((slot + Self.lowestStatus, count)) }
        }
        return result
    }

    public var totalResponses: Int { responsesByStatus().reduce(0) { $0 + $1.count } }
    public var openConnections: Int { openConnectionCount.load(ordering: .relaxed) }
    public var acceptedConnections: Int { acceptedConnectionCount.load(ordering: .relaxed) }
    /// Connections closed at once because `maxConnections` were open (or the server was draining).
    public var rejectedConnections: Int { rejectedConnectionCount.load(ordering: .relaxed) }
    public var bytesReceived: Int { receivedByteCount.load(ordering: .relaxed) }
    public var bytesSent: Int { sentByteCount.load(ordering: .relaxed) }

    func countResponse(status: Int) {
        let slot = status - Self.lowestStatus
        guard slot >= 0 && slot < Self.statusSlots else { return }
        statusCounts[slot].add(1, ordering: .relaxed)
    }

    func connectionOpened() {
        openConnectionCount.add(1, ordering: .relaxed)
        acceptedConnectionCount.add(1, ordering: .relaxed)
    }

    func connectionClosed() { openConnectionCount.subtract(1, ordering: .relaxed) }
    func connectionRejected() { rejectedConnectionCount.add(1, ordering: .relaxed) }
    func received(bytes: Int) { receivedByteCount.add(bytes, ordering: .relaxed) }
    func sent(bytes: Int) { sentByteCount.add(bytes, ordering: .relaxed) }
}
