import FibMath

/// What happened, as the events feed reports it.
public enum EventKind: String, Sendable, CaseIterable {
    case taskSubmitted = "task.submitted"
    case taskStarted = "task.started"
    case taskDone = "task.done"
    case taskFailed = "task.failed"
    case taskCancelled = "task.cancelled"
    case taskTimedOut = "task.timed_out"
    case taskRequeued = "task.requeued"
    case workerReady = "worker.ready"
    case workerExited = "worker.exited"
}

/// One entry of the event log. Optional members are set where they mean something.
public struct Event: Sendable {
    public var seq: UInt64
    public var wallNanos: Int64
    public var kind: EventKind
    public var task: TaskID?
    public var n: UInt64?
    public var algorithm: Algorithm?
    public var workerPID: Int32?
    public var attempt: Int?
    public var durationNanos: UInt64?
    public var digits: Int?
    /// The result itself, on `task.done` events of short results only.
    public var result: [UInt8]?
    public var error: String?
    public var cached: Bool?

    public init(kind: EventKind, wallNanos: Int64) {
        self.seq = 0
        self.wallNanos = wallNanos
        self.kind = kind
    }
}

/// What a reader of the log gets for a cursor.
public enum EventRead: Sendable {
    /// Events after the cursor (possibly none yet) and the cursor to pass next.
    case events([Event], next: UInt64)
    /// The cursor is older than the oldest event kept, or from another run: start again at `head`.
    case expired(head: UInt64)
}

/// A bounded ring of events numbered from 1, read by cursor (the seq of the last event seen).
public struct EventLog: Sendable {
    /// Results longer than this are not carried in events; clients GET the task.
    public static let inlineResultDigits = 1000

    /// The fewest slots the ring has once it holds an event.
    static let initialSlots = 64

    /// The slots, `start` the oldest event's; it grows by doubling up to `capacity` as events come, so that an
    /// idle daemon does not hold a full ring of empty slots (65,536 of them were 9 MB).
    private var ring: [Event?] = []
    private var start = 0
    private var count = 0
    private var inlineBytes = 0
    private let maxInlineBytes: Int
    /// The most events kept.
    public let capacity: Int
    /// The seq of the newest event; 0 before the first.
    public private(set) var head: UInt64 = 0

    public init(capacity: Int, maxInlineResultBytes: Int) {
        self.capacity = max(1, capacity)
        maxInlineBytes = maxInlineResultBytes
    }

    /// How many slots the ring has now (at most `capacity`).
    var slotCount: Int { ring.count }

    /// The seq of the oldest event kept (head + 1 while the log is empty).
    public var oldest: UInt64 { head - UInt64(count) + 1 }

    /// Appends `event` with the next seq; returns it as kept (seq set, a long result left out).
    @discardableResult
    public mutating func append(_ event: Event) -> Event {
        var event = event
        if let result = event.result, result.count > Self.inlineResultDigits { event.result = nil }
        head += 1
        event.seq = head
        let bytes = event.result?.count ?? 0
        while count == capacity || (count > 0 && inlineBytes + bytes > maxInlineBytes) {
            dropOldest()
        }
        if count == ring.count { grow() }
        ring[(start + count) % ring.count] = event
        count += 1
        inlineBytes += bytes
        return event
    }

    /// Takes back the events of an earlier run, so that cursors from before a restart still read what they
    /// missed. Only the run of consecutive seqs that ends at `head` is kept: an event after a gap (a write that
    /// failed) could be mistaken for another, and a wrong event is worse than a resync. New events continue
    /// after `head`. Call it on an empty log only.
    public mutating func restore(_ stored: [Event], head storedHead: UInt64) {
        guard count == 0, head == 0 else { return }
        var first = stored.endIndex
        var expected = storedHead
        while first > stored.startIndex, stored[first - 1].seq == expected, expected > 0 {
            first -= 1
            expected -= 1
        }
        head = expected
        for event in stored[first...] { append(event) }
    }

    /// Doubles the slots (up to `capacity`), the kept events first in order: O(count), once per doubling.
    private mutating func grow() {
        let slots = min(capacity, max(Self.initialSlots, ring.count * 2))
        var grown: [Event?] = []
        grown.reserveCapacity(slots)
        for offset in 0..<count { grown.append(ring[(start + offset) % ring.count]) }
        grown.append(contentsOf: repeatElement(nil, count: slots - count))
        ring = grown
        start = 0
    }

    private mutating func dropOldest() {
        inlineBytes -= ring[start]?.result?.count ?? 0
        ring[start] = nil
        start = (start + 1) % ring.count
        count -= 1
    }

    /// Calls `body` with each event kept after `cursor`, oldest first, reading them in place (no copy of the
    /// events, nor an array of them); returns the cursor to pass next (the head). A cursor older than the
    /// oldest event kept starts at the oldest: the events in between are gone.
    public func forEach(after cursor: UInt64, _ body: (borrowing Event) -> Void) -> UInt64 {
        let from = max(cursor, oldest &- 1)
        guard from < head else { return max(cursor, head) }
        let firstIndex = count - Int(head - from)
        ring.withUnsafeBufferPointer { slots in
            for offset in firstIndex..<count {
                switch slots[(start + offset) % slots.count] {
                case .some(let event): body(event)
                case .none: break
                }
            }
        }
        return head
    }

    /// The events after `cursor`, at most `limit` of them, none after `visibleHead` (default: all): a
    /// durable store shows only the events it has written, so that no client sees one a crash could undo.
    public func read(after cursor: UInt64, limit: Int, visibleHead: UInt64? = nil) -> EventRead {
        let visible = min(visibleHead ?? head, head)
        if cursor > visible || cursor + 1 < oldest { return .expired(head: visible) }
        let available = Int(visible - cursor)
        let taken = min(available, max(0, limit))
        let firstIndex = count - Int(head - cursor)
        var events: [Event] = []
        events.reserveCapacity(taken)
        for offset in 0..<taken {
            if let event = ring[(start + firstIndex + offset) % ring.count] { events.append(event) }
        }
        return .events(events, next: cursor + UInt64(taken))
    }
}
