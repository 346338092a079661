import FibCore
import FibMath

/// The events of one transaction as one row's blob: a run of consecutive seqs, so the seqs themselves are not
/// stored. One row per commit instead of one per event: an F(1) writes three events, a batch of 1,000 tasks three
/// thousand, and each row of their own cost a statement and its B-tree insert.
///
/// Each event is its kind (a byte), a little-endian UInt16 saying which optional members follow, its wall time as
/// the signed difference from the event before (the first from zero), then the members present, in the order of
/// ``Member``: integers as LEB128 varints (signed ones zigzag-coded), the algorithm as a byte, the error as its
/// length and UTF-8 bytes. Results are not packed: a task's end writes its result to the results table once.
enum PackedEvents {
    /// The optional members an event carries, as bits of its second field. Stored: never renumber.
    private enum Member: UInt16 {
        case task = 0x1
        case n = 0x2
        case algorithm = 0x4
        case workerPID = 0x8
        case attempt = 0x10
        case durationNanos = 0x20
        case digits = 0x40
        case error = 0x80
        case cached = 0x100
        /// With ``cached``: its value is true.
        case cachedTrue = 0x200
    }

    /// An event run that cannot be read back: the file was changed by something other than fibd.
    struct Malformed: Error {
        var reason: String
    }

    // MARK: - Writing

    /// Appends `events`, which must have consecutive seqs, to `bytes`.
    static func pack(_ events: ArraySlice<Event>, into bytes: inout [UInt8]) {
        var previousWall: Int64 = 0
        for event in events {
            bytes.append(code(of: event.kind))
            var members: UInt16 = 0
            if event.task != nil { members |= Member.task.rawValue }
            if event.n != nil { members |= Member.n.rawValue }
            if event.algorithm != nil { members |= Member.algorithm.rawValue }
            if event.workerPID != nil { members |= Member.workerPID.rawValue }
            if event.attempt != nil { members |= Member.attempt.rawValue }
            if event.durationNanos != nil { members |= Member.durationNanos.rawValue }
            if event.digits != nil { members |= Member.digits.rawValue }
            if event.error != nil { members |= Member.error.rawValue }
            if let cached = event.cached {
                members |= Member.cached.rawValue | (cached ? Member.cachedTrue.rawValue : 0)
            }
            bytes.append(UInt8(truncatingIfNeeded: members))
            bytes.append(UInt8(truncatingIfNeeded: members >> 8))
            appendSigned(event.wallNanos &- previousWall, to: &bytes)
            previousWall = event.wallNanos
            if let task = event.task { appendVarint(task.rawValue, to: &bytes) }
            if let n = event.n { appendVarint(n, to: &bytes) }
            if let algorithm = event.algorithm { bytes.append(code(of: algorithm)) }
            if let pid = event.workerPID { appendSigned(Int64(pid), to: &bytes) }
            if let attempt = event.attempt { appendSigned(Int64(attempt), to: &bytes) }
            if let nanos = event.durationNanos { appendVarint(nanos, to: &bytes) }
            if let digits = event.digits { appendSigned(Int64(digits), to: &bytes) }
            if let error = event.error {
                appendVarint(UInt64(error.utf8.count), to: &bytes)
                bytes.append(contentsOf: error.utf8)
            }
        }
    }

    private static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: rest) | 0x80)
            rest >>= 7
        }
        bytes.append(UInt8(rest))
    }

    private static func appendSigned(_ value: Int64, to bytes: inout [UInt8]) {
        appendVarint(UInt64(bitPattern: (value << 1) ^ (value >> 63)), to: &bytes)
    }

    // MARK: - Reading

    /// The `count` events packed in `bytes`, numbered from `firstSeq`.
    static func unpack(_ bytes: [UInt8], firstSeq: UInt64, count: Int) throws(Malformed) -> [Event] {
        var reader = Reader(bytes: bytes)
        var events: [Event] = []
        events.reserveCapacity(max(0, min(count, bytes.count / 4)))
        var wall: Int64 = 0
        for index in 0..<max(0, count) {
            let kindCode = try reader.byte()
            guard let kind = kind(code: kindCode) else { throw Malformed(reason: "an unknown event kind \(kindCode)") }
            let members = UInt16(try reader.byte()) | UInt16(try reader.byte()) << 8
            func has(_ member: Member) -> Bool { members & member.rawValue != 0 }
            wall = wall &+ (try reader.signed())
            var event = Event(kind: kind, wallNanos: wall)
            event.seq = firstSeq &+ UInt64(index)
            if has(.task) { event.task = TaskID(rawValue: try reader.varint()) }
            if has(.n) { event.n = try reader.varint() }
            if has(.algorithm) {
                let algorithmCode = try reader.byte()
                guard let algorithm = algorithm(code: algorithmCode) else {
                    throw Malformed(reason: "an unknown algorithm \(algorithmCode)")
                }
                event.algorithm = algorithm
            }
            if has(.workerPID) { event.workerPID = Int32(truncatingIfNeeded: try reader.signed()) }
            if has(.attempt) { event.attempt = Int(truncatingIfNeeded: try reader.signed()) }
            if has(.durationNanos) { event.durationNanos = try reader.varint() }
            if has(.digits) { event.digits = Int(truncatingIfNeeded: try reader.signed()) }
            if has(.error) { event.error = try reader.text() }
            if has(.cached) { event.cached = has(.cachedTrue) }
            events.append(event)
        }
        guard reader.isAtEnd else { throw Malformed(reason: "bytes after its \(count) events") }
        return events
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        var isAtEnd: Bool { offset == bytes.count }

        mutating func byte() throws(Malformed) -> UInt8 {
            guard offset < bytes.count else { throw Malformed(reason: "it ends inside an event") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func varint() throws(Malformed) -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let next = try byte()
                guard shift < 64 else { throw Malformed(reason: "a number longer than 64 bits") }
                value |= UInt64(next & 0x7f) << shift
                if next & 0x80 == 0 { return value }
                shift += 7
            }
        }

        mutating func signed() throws(Malformed) -> Int64 {
            let zigzag = try varint()
            return Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)
        }

        mutating func text() throws(Malformed) -> String {
            let length = try varint()
            guard length <= UInt64(bytes.count - offset) else { throw Malformed(reason: "it ends inside a text") }
            let end = offset + Int(length)
            defer { offset = end }
            return String(decoding: bytes[offset..<end], as: UTF8.self)
        }
    }

    // MARK: - Stored codes

    /// The byte that stands for `kind`. Stored: never renumber.
    static func code(of kind: EventKind) -> UInt8 {
        switch kind {
        case .taskSubmitted: return 1
        case .taskStarted: return 2
        case .taskDone: return 3
        case .taskFailed: return 4
        case .taskCancelled: return 5
        case .taskTimedOut: return 6
        case .taskRequeued: return 7
        case .workerReady: return 8
        case .workerExited: return 9
        }
    }

    static func kind(code: UInt8) -> EventKind? {
        EventKind.allCases.first { self.code(of: $0) == code }
    }

    /// The byte that stands for `algorithm`. Stored: never renumber.
    static func code(of algorithm: Algorithm) -> UInt8 {
        switch algorithm {
        case .fast: return 1
        case .recursive: return 2
        }
    }

    static func algorithm(code: UInt8) -> Algorithm? {
        Algorithm.allCases.first { self.code(of: $0) == code }
    }
}
