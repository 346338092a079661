import FibCore
import FibMath
import Testing

@testable import FibStore

@Suite("Packed event runs")
struct PackedEventsTests {
    /// Every kind and algorithm, every optional member present and absent, and values at their extremes.
    static func sampleRun() -> [Event] {
        var events: [Event] = []
        var wall: Int64 = 1_800_000_000_000_000_000
        for (index, kind) in EventKind.allCases.enumerated() {
            var event = Event(kind: kind, wallNanos: wall)
            event.seq = 41 + UInt64(index)
            if index % 2 == 0 {
                event.task = TaskID(rawValue: UInt64.max - UInt64(index))
                event.n = UInt64(index) << 40
                event.algorithm = Algorithm.allCases[index % Algorithm.allCases.count]
                event.workerPID = index == 4 ? Int32.max : Int32(1000 + index)
                event.attempt = index
                event.durationNanos = UInt64.max
                event.digits = 2_089_877
                event.error = index == 2 ? "worker killed by signal 9 (SIGKILL) — «ünïcode»\nsecond line" : ""
                event.cached = index % 4 == 0
            }
            events.append(event)
            // Time may step back (the wall clock is set): the difference is signed.
            wall = index == 3 ? wall - 5_000_000 : wall + 123_456
        }
        return events
    }

    @Test func aRunReadsBackAsItWasWritten() throws {
        let events = Self.sampleRun()
        var bytes: [UInt8] = [0xEE]  // packing appends: what came before is left alone
        PackedEvents.pack(events[...], into: &bytes)
        let read = try PackedEvents.unpack(Array(bytes.dropFirst()), firstSeq: 41, count: events.count)
        #expect(read.count == events.count)
        for (written, got) in zip(events, read) {
            #expect(got.seq == written.seq && got.kind == written.kind && got.wallNanos == written.wallNanos)
            #expect(got.task == written.task && got.n == written.n && got.algorithm == written.algorithm)
            #expect(got.workerPID == written.workerPID && got.attempt == written.attempt)
            #expect(got.durationNanos == written.durationNanos && got.digits == written.digits)
            #expect(got.error == written.error && got.cached == written.cached && got.result == nil)
        }
    }

    @Test func anEventOfAShortTaskTakesAFewBytes() {
        var event = Event(kind: .taskDone, wallNanos: 1_800_000_000_000_000_000)
        event.task = TaskID(rawValue: 123_456)
        event.n = 1
        event.algorithm = .fast
        event.workerPID = 4242
        event.attempt = 1
        event.durationNanos = 20_000
        event.digits = 1
        var first: [UInt8] = []
        PackedEvents.pack([event][...], into: &first)
        var two: [UInt8] = []
        var next = event
        next.wallNanos += 50_000
        PackedEvents.pack([event, next][...], into: &two)
        // 18: kind 1, members 2, time 3, task 3, n 1, algorithm 1, pid 2, attempt 1, duration 3, digits 1.
        #expect(two.count - first.count <= 18, "the second event of a run costs \(two.count - first.count) bytes")
    }

    @Test func damagedBytesAreRefusedNotMisread() {
        var bytes: [UInt8] = []
        PackedEvents.pack(Self.sampleRun()[...], into: &bytes)
        let count = Self.sampleRun().count
        #expect(throws: PackedEvents.Malformed.self) {
            try PackedEvents.unpack(Array(bytes.dropLast()), firstSeq: 1, count: count)
        }
        #expect(throws: PackedEvents.Malformed.self) {
            try PackedEvents.unpack(bytes + [0], firstSeq: 1, count: count)
        }
        #expect(throws: PackedEvents.Malformed.self) {
            try PackedEvents.unpack(bytes, firstSeq: 1, count: count + 1)
        }
        #expect(throws: PackedEvents.Malformed.self) {
            try PackedEvents.unpack([0x7f, 0, 0, 0], firstSeq: 1, count: 1)  // no such kind
        }
        #expect(throws: PackedEvents.Malformed.self) {
            try PackedEvents.unpack([1, 0, 0] + Array(repeating: 0xff, count: 11), firstSeq: 1, count: 1)
        }
    }

    @Test func everyStoredCodeIsDistinctAndReadsBack() {
        let kindCodes = EventKind.allCases.map { PackedEvents.code(of: $0) }
        #expect(Set(kindCodes).count == kindCodes.count)
        #expect(EventKind.allCases.allSatisfy { PackedEvents.kind(code: PackedEvents.code(of: $0)) == $0 })
        let algorithmCodes = Algorithm.allCases.map { PackedEvents.code(of: $0) }
        #expect(Set(algorithmCodes).count == algorithmCodes.count)
        #expect(Algorithm.allCases.allSatisfy { PackedEvents.algorithm(code: PackedEvents.code(of: $0)) == $0 })
    }
}
