import CNIOExtrasZlib
import NIOCore
import Synchronization

/// What the connections of one event loop share: one coarse timer that enforces their header and
/// idle deadlines, and one deflate state that compresses their responses in turn. Connections pay
/// for neither while they wait: a slot in an array instead of a timer each, no compressor each.
///
/// Touched only on its event loop (`@unchecked Sendable` so that the server can keep it in a
/// dictionary shared by all loops).
final class EventLoopConnections: @unchecked Sendable {
    let eventLoop: any EventLoop
    /// How often deadlines are checked: a deadline is enforced at most this late.
    let sweepInterval: TimeAmount
    private var connections: [HTTPConnectionHandler] = []
    private var sweepTimer: Scheduled<Void>?
    private var gzip: Deflater?
    private var deflate: Deflater?

    init(eventLoop: any EventLoop, headerTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.eventLoop = eventLoop
        // A quarter of the shorter timeout, between 10 ms and 1 s: 10,000 deadline checks a
        // second cost tens of microseconds.
        let quarter = min(headerTimeout, idleTimeout).nanoseconds / 4
        self.sweepInterval = .nanoseconds(min(max(quarter, 10_000_000), 1_000_000_000))
    }

    var count: Int { connections.count }

    /// Starts checking the connection's deadline.
    func add(_ connection: HTTPConnectionHandler) {
        eventLoop.preconditionInEventLoop()
        guard connection.sweepSlot < 0 else { return }
        connection.sweepSlot = connections.count
        connections.append(connection)
        if sweepTimer == nil { armSweep() }
    }

    /// Stops checking it (the connection closes): the last slot moves into its place.
    func remove(_ connection: HTTPConnectionHandler) {
        let slot = connection.sweepSlot
        guard slot >= 0, slot < connections.count, connections[slot] === connection else { return }
        connection.sweepSlot = -1
        let last = connections.removeLast()
        if last !== connection {
            connections[slot] = last
            last.sweepSlot = slot
        }
        if connections.isEmpty {
            sweepTimer?.cancel()
            sweepTimer = nil
        }
    }

    private func armSweep() {
        sweepTimer = eventLoop.assumeIsolated().scheduleTask(in: sweepInterval) { [self] in
            self.sweep()
        }
    }

    private func sweep() {
        sweepTimer = nil
        let now = NIODeadline.now()
        var slot = 0
        while slot < connections.count {
            let connection = connections[slot]
            if connection.deadline <= now {
                connection.deadlinePassed()
                // It may have left its slot (closed), and another moved in: look at the slot again.
                if slot < connections.count && connections[slot] === connection { slot += 1 }
            } else {
                slot += 1
            }
        }
        if !connections.isEmpty && sweepTimer == nil { armSweep() }
    }

    /// `body` compressed with the coding, or nil if compression failed.
    func compress(_ body: ByteBuffer, coding: ResponseCoding, allocator: ByteBufferAllocator) -> ByteBuffer? {
        switch coding {
        case .identity:
            return nil
        case .gzip:
            if gzip == nil { gzip = Deflater(windowBits: 16 + 15) }
            return gzip?.compress(body, allocator: allocator)
        case .deflate:
            if deflate == nil { deflate = Deflater(windowBits: 15) }
            return deflate?.compress(body, allocator: allocator)
        }
    }
}

/// One zlib deflate state, reset for each response (a fresh state costs a 256 KB allocation).
private final class Deflater {
    private let stream: UnsafeMutablePointer<cnioextras_z_stream>

    init?(windowBits: Int32) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: cnioextras_z_stream())
        let result = CNIOExtrasZlib_deflateInit2(
            stream, CNIOEXTRAS_Z_DEFAULT_COMPRESSION, CNIOEXTRAS_Z_DEFLATED, windowBits, 8,
            CNIOEXTRAS_Z_DEFAULT_STRATEGY)
        guard result == CNIOEXTRAS_Z_OK else {
            stream.deinitialize(count: 1)
            stream.deallocate()
            return nil
        }
    }

    deinit {
        cnioextras_z_deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    func compress(_ body: ByteBuffer, allocator: ByteBufferAllocator) -> ByteBuffer? {
        guard cnioextras_z_deflateReset(stream) == CNIOEXTRAS_Z_OK else { return nil }
        let bound = Int(cnioextras_z_deflateBound(stream, UInt(body.readableBytes)))
        var output = allocator.buffer(capacity: bound)
        let stream = self.stream
        var finished = false
        _ = body.withUnsafeReadableBytes { input in
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: bound) { out -> Int in
                stream.pointee.next_in = UnsafeMutablePointer(
                    mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self))
                stream.pointee.avail_in = UInt32(input.count)
                stream.pointee.next_out = out.baseAddress?.assumingMemoryBound(to: UInt8.self)
                stream.pointee.avail_out = UInt32(out.count)
                defer {
                    stream.pointee.next_in = nil
                    stream.pointee.avail_in = 0
                    stream.pointee.next_out = nil
                    stream.pointee.avail_out = 0
                }
                finished = cnioextras_z_deflate(stream, CNIOEXTRAS_Z_FINISH) == CNIOEXTRAS_Z_STREAM_END
                return finished ? out.count - Int(stream.pointee.avail_out) : 0
            }
        }
        return finished ? output : nil
    }
}

/// The `EventLoopConnections` of each event loop a server's connections run on.
final class EventLoopConnectionsRegistry: Sendable {
    private let byLoop = Mutex<[ObjectIdentifier: EventLoopConnections]>([:])
    private let headerTimeout: TimeAmount
    private let idleTimeout: TimeAmount

    init(headerTimeout: TimeAmount, idleTimeout: TimeAmount) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
    }

    func connections(of eventLoop: any EventLoop) -> EventLoopConnections {
        byLoop.withLock { byLoop in
            if let existing = byLoop[ObjectIdentifier(eventLoop)] { return existing }
            let created = EventLoopConnections(
                eventLoop: eventLoop, headerTimeout: headerTimeout, idleTimeout: idleTimeout)
            byLoop[ObjectIdentifier(eventLoop)] = created
            return created
        }
    }
}
