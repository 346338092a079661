import FibMath
import Testing

@testable import FibCore

@Suite struct EventLogTests {
    private func event(_ kind: EventKind = .workerReady, result: [UInt8]? = nil) -> Event {
        var event = Event(kind: kind, wallNanos: 1)
        event.result = result
        return event
    }

    private func seqs(_ read: EventRead) -> [UInt64]? {
        if case .events(let events, _) = read { return events.map(\.seq) }
        return nil
    }

    private func next(_ read: EventRead) -> UInt64? {
        if case .events(_, let next) = read { return next }
        return nil
    }

    private func expiredHead(_ read: EventRead) -> UInt64? {
        if case .expired(let head) = read { return head }
        return nil
    }

    @Test func numbersFromOneAndPagesByCursor() {
        var log = EventLog(capacity: 10, maxInlineResultBytes: 1 << 20)
        #expect(log.head == 0)
        #expect(log.oldest == 1)
        #expect(seqs(log.read(after: 0, limit: 10)) == [])
        for _ in 0..<5 { log.append(event()) }
        #expect(log.head == 5)
        #expect(log.oldest == 1)
        let first = log.read(after: 0, limit: 2)
        #expect(seqs(first) == [1, 2])
        #expect(next(first) == 2)
        let second = log.read(after: 2, limit: 100)
        #expect(seqs(second) == [3, 4, 5])
        #expect(next(second) == 5)
        let none = log.read(after: 5, limit: 100)
        #expect(seqs(none) == [])
        #expect(next(none) == 5)
        #expect(seqs(log.read(after: 1, limit: 0)) == [])
        #expect(next(log.read(after: 1, limit: 0)) == 1)
    }

    @Test func aCursorOutsideTheKeptRangeIsExpired() {
        var log = EventLog(capacity: 4, maxInlineResultBytes: 1 << 20)
        for _ in 0..<10 { log.append(event()) }
        #expect(log.head == 10)
        #expect(log.oldest == 7)
        #expect(expiredHead(log.read(after: 5, limit: 10)) == 10, "event 6 is gone")
        #expect(seqs(log.read(after: 6, limit: 10)) == [7, 8, 9, 10])
        #expect(seqs(log.read(after: 8, limit: 10)) == [9, 10])
        #expect(expiredHead(log.read(after: 11, limit: 10)) == 10, "beyond head: another run's cursor")
        #expect(expiredHead(log.read(after: .max, limit: 10)) == 10)
        #expect(expiredHead(log.read(after: 0, limit: 10)) == 10)
    }

    @Test func forEachVisitsTheEventsAfterACursorInPlace() {
        var log = EventLog(capacity: 4, maxInlineResultBytes: 1 << 20)
        var seen: [UInt64] = []
        #expect(log.forEach(after: 0) { seen.append($0.seq) } == 0)
        #expect(seen.isEmpty)
        for index in 0..<10 { log.append(event(result: [UInt8(index)])) }
        // Events 7 to 10 are kept, and the ring has wrapped around.
        #expect(log.forEach(after: 8) { seen.append($0.seq) } == 10)
        #expect(seen == [9, 10])
        seen = []
        #expect(log.forEach(after: 2) { seen.append($0.seq) } == 10, "a cursor from before the oldest")
        #expect(seen == [7, 8, 9, 10])
        var results: [[UInt8]?] = []
        #expect(log.forEach(after: 6) { results.append($0.result) } == 10)
        #expect(results == [[6], [7], [8], [9]])
        seen = []
        #expect(log.forEach(after: 10) { seen.append($0.seq) } == 10)
        #expect(log.forEach(after: 12) { seen.append($0.seq) } == 12, "a cursor past the head stays")
        #expect(seen.isEmpty)
    }

    @Test func onlyShortResultsAreCarriedInline() {
        var log = EventLog(capacity: 10, maxInlineResultBytes: 1 << 20)
        log.append(event(.taskDone, result: digits(count: 1000)))
        log.append(event(.taskDone, result: digits(count: 1001)))
        guard case .events(let events, _) = log.read(after: 0, limit: 10) else {
            Issue.record("events expected")
            return
        }
        #expect(events[0].result?.count == 1000)
        #expect(events[1].result == nil)
        #expect(EventLog.inlineResultDigits == 1000)
    }

    @Test func inlineResultsAreBoundedInBytesOldestDroppedFirst() {
        var log = EventLog(capacity: 100, maxInlineResultBytes: 2500)
        log.append(event())
        for _ in 0..<3 { log.append(event(.taskDone, result: digits(count: 1000))) }
        // 3000 inline bytes do not fit in 2500: the oldest events go until the newest fits.
        #expect(log.head == 4)
        #expect(log.oldest == 3)
        #expect(seqs(log.read(after: 2, limit: 10)) == [3, 4])
        log.append(event())
        #expect(log.oldest == 3, "an event without a result costs no bytes")
    }

    @Test func theRingGrowsAsEventsComeUpToItsCapacity() {
        var log = EventLog(capacity: 1000, maxInlineResultBytes: 1 << 20)
        #expect(log.slotCount == 0, "an idle log holds no slots")
        log.append(event())
        #expect(log.slotCount == EventLog.initialSlots)
        for _ in 1..<100 { log.append(event()) }
        #expect(log.slotCount == 128)
        for _ in 100..<2500 { log.append(event()) }
        #expect(log.slotCount == 1000)
        #expect(log.head == 2500)
        #expect(log.oldest == 1501)
        #expect(seqs(log.read(after: 1500, limit: 2000)) == Array(1501...2500))
        #expect(EventLog(capacity: 10, maxInlineResultBytes: 0).capacity == 10)
    }

    @Test func growingAfterTheOldestWereDroppedKeepsTheOrder() {
        // Inline results push the oldest out before the ring is full, so it wraps before it grows.
        var log = EventLog(capacity: 500, maxInlineResultBytes: 2500)
        for _ in 0..<50 { log.append(event(.taskDone, result: digits(count: 1000))) }
        #expect(log.slotCount == EventLog.initialSlots)
        #expect(log.oldest == 49)
        for _ in 0..<300 { log.append(event()) }
        #expect(log.slotCount == 500)
        #expect(log.head == 350)
        #expect(log.oldest == 49)
        #expect(seqs(log.read(after: 48, limit: 1000)) == Array(49...350))
        for _ in 0..<1000 { log.append(event()) }
        #expect(log.slotCount == 500)
        #expect(seqs(log.read(after: 850, limit: 1000)) == Array(851...1350))
    }

    @Test func theSchedulersEventsTellTheStory() throws {
        let harness = SchedulerHarness()
        harness.ready(1, pid: 321)
        let task = try #require(harness.submit(12))
        harness.takeActions()
        harness.advance(seconds: 1.5)
        harness.finish(1, digits: Array("144".utf8))
        let events = harness.events()
        #expect(events.map(\.seq) == [1, 2, 3, 4])
        #expect(events.map(\.kind) == [.workerReady, .taskSubmitted, .taskStarted, .taskDone])
        #expect(events[0].workerPID == 321)
        #expect(events[1].task == task.id)
        #expect(events[1].n == 12)
        #expect(events[1].algorithm == .fast)
        #expect(events[2].workerPID == 321)
        #expect(events[2].attempt == 1)
        let done = events[3]
        #expect(done.task == task.id)
        #expect(done.durationNanos == 1_500_000_000)
        #expect(done.digits == 3)
        #expect(done.result == Array("144".utf8))
        #expect(done.cached == nil)
        #expect(done.wallNanos == harness.now.wallNanos)
        #expect(harness.scheduler.durations.count == 1)
    }

    @Test func aLongResultIsCountedButNotCarried() {
        let harness = SchedulerHarness()
        harness.ready(1)
        harness.submit(5000)
        harness.takeActions()
        harness.finish(1, digits: digits(count: 1045))
        let done = harness.events().last
        #expect(done?.kind == .taskDone)
        #expect(done?.digits == 1045)
        #expect(done?.result == nil)
    }

    @Test func theSchedulersLogIsBoundedByItsCapacity() {
        let harness = SchedulerHarness(limits: SchedulerHarness.limits { $0.eventLogCapacity = 8 })
        for n: UInt64 in 0..<20 { harness.submit(n) }
        #expect(harness.scheduler.events.head == 20)
        #expect(harness.scheduler.events.oldest == 13)
        #expect(harness.events(after: 12).count == 8)
    }
}
