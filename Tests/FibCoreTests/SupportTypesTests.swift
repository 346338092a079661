import FibMath
import Testing

@testable import FibCore

@Suite struct TaskIDTests {
    @Test func textRoundTrips() {
        for raw: UInt64 in [0, 1, 0xabc, 0x0123_4567_89ab_cdef, .max, 1_800_000_000_000_000] {
            let id = TaskID(rawValue: raw)
            #expect(id.description.utf8.count == 16)
            #expect(TaskID(id.description) == id)
        }
        #expect(TaskID(rawValue: 0xabc).description == "0000000000000abc")
        #expect(TaskID(rawValue: .max).description == "ffffffffffffffff")
        #expect(TaskID("0000000000000abc"[...]) == TaskID(rawValue: 0xabc))
    }

    @Test func onlySixteenHexDigitsParse() {
        for text in [
            "", "abc", "000000000000000", "00000000000000000", "000000000000000g", "+000000000000abc",
            "-000000000000000", " 000000000000abc", "0x0000000000000a",
        ] {
            #expect(TaskID(text) == nil, "\(text)")
        }
    }

    @Test func idsOrderByNumber() {
        #expect(TaskID(rawValue: 1) < TaskID(rawValue: 2))
        #expect(!(TaskID(rawValue: 2) < TaskID(rawValue: 2)))
    }
}

@Suite struct StatisticsTests {
    @Test func theHistogramIsCumulative() {
        var histogram = DurationHistogram()
        histogram.record(nanos: 400_000)  // 0.0004 s
        histogram.record(nanos: 2 * nanosPerSecond)
        histogram.record(nanos: 5000 * nanosPerSecond)  // beyond every bound: +Inf only
        #expect(histogram.count == 3)
        #expect(abs(histogram.sumSeconds - 5002.0004) < 1e-9)
        let bounds = DurationHistogram.bounds
        #expect(histogram.cumulativeCounts.count == bounds.count)
        for (bound, count) in zip(bounds, histogram.cumulativeCounts) {
            let expected = (bound >= 0.0004 ? 1 : 0) + (bound >= 2 ? 1 : 0)
            #expect(count == expected, "le=\(bound)")
        }
        histogram.record(nanos: 500_000)  // exactly on a bound counts in it
        #expect(histogram.cumulativeCounts[0] == 2)
    }

    @Test func theRateCountsTheLastMinute() {
        var rate = RecentRate()
        let start = Moment(monotonicNanos: 1_000 * nanosPerSecond, wallNanos: 0)
        #expect(rate.lastMinute(at: start) == 0)
        rate.record(at: start)
        rate.record(at: start.advanced(byNanos: nanosPerSecond / 2), count: 2)
        rate.record(at: start.advanced(byNanos: 30 * nanosPerSecond))
        #expect(rate.lastMinute(at: start.advanced(byNanos: 30 * nanosPerSecond)) == 4)
        #expect(rate.lastMinute(at: start.advanced(byNanos: 59 * nanosPerSecond)) == 4)
        #expect(rate.lastMinute(at: start.advanced(byNanos: 60 * nanosPerSecond)) == 1, "the first second left")
        #expect(rate.lastMinute(at: start.advanced(byNanos: 90 * nanosPerSecond)) == 0)
        // A bucket reused a minute later starts from zero.
        rate.record(at: start.advanced(byNanos: 60 * nanosPerSecond))
        #expect(rate.lastMinute(at: start.advanced(byNanos: 60 * nanosPerSecond)) == 2)
    }

    @Test func theSchedulerCountsCompletionsPerMinute() {
        let harness = SchedulerHarness()
        harness.ready(1)
        for n: UInt64 in 1...3 {
            harness.submit(n)
            harness.takeActions()
            harness.finish(1)
        }
        #expect(harness.scheduler.completions.lastMinute(at: harness.now) == 3)
        harness.advance(seconds: 61)
        #expect(harness.scheduler.completions.lastMinute(at: harness.now) == 0)
    }
}

@Suite struct BinaryHeapTests {
    @Test func popsInOrderAndDropsStaleEntries() {
        var generator = SplitMix64(seed: 7)
        var heap = BinaryHeap<Int>()
        var values: [Int] = []
        for _ in 0..<500 {
            let value = Int(generator.next() % 1000)
            heap.push(value)
            values.append(value)
        }
        #expect(heap.count == 500)
        #expect(heap.min == values.min())
        heap.removeAll { $0 % 3 == 0 }
        var popped: [Int] = []
        while let value = heap.pop() { popped.append(value) }
        #expect(popped == values.filter { $0 % 3 != 0 }.sorted())
        #expect(heap.isEmpty)
        #expect(heap.pop() == nil)
    }
}
