import FibMath
import Testing

@testable import FibCore

@Suite struct ResultCacheTests {
    private let a = ComputationKey(n: 1, algorithm: .fast)
    private let b = ComputationKey(n: 2, algorithm: .fast)
    private let c = ComputationKey(n: 3, algorithm: .fast)

    @Test func evictsTheLeastRecentlyUsedByBytes() {
        var cache = ResultCache(capacityBytes: 10)
        cache.insert(digits(count: 4), for: a)
        cache.insert(digits(count: 4), for: b)
        #expect(cache.lookup(a) != nil, "a is now the most recently used")
        cache.insert(digits(count: 4), for: c)
        #expect(cache.contains(a))
        #expect(!cache.contains(b))
        #expect(cache.contains(c))
        #expect(cache.bytes == 8)
        #expect(cache.count == 2)
        #expect(cache.hits == 1)
        #expect(cache.lookup(b) == nil)
        #expect(cache.misses == 1)
    }

    @Test func anEntryLargerThanTheCapacityIsNotKept() {
        var cache = ResultCache(capacityBytes: 10)
        cache.insert(digits(count: 4), for: a)
        cache.insert(digits(count: 11), for: b)
        #expect(!cache.contains(b))
        #expect(cache.contains(a), "nothing was evicted for it")
        #expect(cache.bytes == 4)
        cache.insert(digits(count: 10), for: c)
        #expect(cache.contains(c), "exactly the capacity fits")
        #expect(!cache.contains(a))
        #expect(cache.bytes == 10)
    }

    @Test func shrinkingTheCapacityEvictsOldestFirst() {
        var cache = ResultCache(capacityBytes: 100)
        cache.insert(digits(count: 10), for: a)
        cache.insert(digits(count: 10), for: b)
        cache.insert(digits(count: 10), for: c)
        _ = cache.lookup(a)
        cache.setCapacity(20)
        #expect(cache.capacityBytes == 20)
        #expect(!cache.contains(b))
        #expect(cache.contains(c))
        #expect(cache.contains(a))
        cache.setCapacity(0)
        #expect(cache.count == 0)
        #expect(cache.bytes == 0)
        cache.setCapacity(-5)
        #expect(cache.capacityBytes == 0)
    }

    @Test func reinsertingAKeyReplacesItsBytes() {
        var cache = ResultCache(capacityBytes: 100)
        cache.insert(digits(count: 10), for: a)
        cache.insert(digits(count: 30), for: a)
        #expect(cache.bytes == 30)
        #expect(cache.count == 1)
        #expect(cache.lookup(a)?.count == 30)
    }

    /// Many hits on few entries must neither grow the use log without bound nor confuse the LRU order.
    @Test func repeatedHitsKeepTheOrderRight() {
        var cache = ResultCache(capacityBytes: 30)
        cache.insert(digits(count: 10), for: a)
        cache.insert(digits(count: 10), for: b)
        cache.insert(digits(count: 10), for: c)
        for round in 0..<5000 {
            _ = cache.lookup(round % 2 == 0 ? a : c)
        }
        cache.insert(digits(count: 10), for: ComputationKey(n: 4, algorithm: .fast))
        #expect(!cache.contains(b), "b was never used again")
        #expect(cache.contains(a))
        #expect(cache.contains(c))
        #expect(cache.hits == 5000)
    }

    @Test func theSchedulerAnswersFromTheCacheWithoutAWorker() {
        let harness = SchedulerHarness()
        harness.ready(1)
        let computed = harness.submit(25)
        harness.takeActions()
        harness.finish(1, digits: Array("75025".utf8))
        _ = harness.scheduler.takeEndedTasks()
        #expect(harness.scheduler.cache.count == 1)

        harness.advance(seconds: 1)
        let cached = harness.submit(25)
        #expect(cached?.state == .done)
        #expect(cached?.cached == true)
        #expect(cached?.result == Array("75025".utf8))
        #expect(cached?.workerPID == nil)
        #expect(cached?.durationNanos == 0)
        #expect(harness.takeActions().isEmpty)
        #expect(harness.scheduler.takeEndedTasks() == [cached?.id].compactMap { $0 })
        #expect(harness.scheduler.cache.hits == 1)
        #expect(harness.task(computed?.id)?.cached == false)
        #expect(harness.scheduler.counters.done == 2)
        #expect(harness.scheduler.durations.count == 1, "a cached answer is not a computation")
        let done = harness.events().last
        #expect(done?.kind == .taskDone)
        #expect(done?.cached == true)
        expectCountersMatchTasks(harness.scheduler)
    }

    @Test func aFailedComputationIsNotCached() {
        let harness = SchedulerHarness()
        harness.ready(1)
        let failed = harness.submit(25)
        harness.takeActions()
        harness.fail(1, message: "out of memory")
        #expect(harness.task(failed?.id)?.state == .failed)
        #expect(harness.task(failed?.id)?.error == "out of memory")
        #expect(harness.worker(1)?.failed == 1)
        let again = harness.submit(25)
        #expect(again?.state == .running)
        #expect(harness.takeActions().count == 1)
    }

    @Test func anEvictedResultIsComputedAgain() {
        let harness = SchedulerHarness(limits: SchedulerHarness.limits { $0.cacheBytes = 10 })
        harness.ready(1)
        for n: UInt64 in [1, 2, 3] {
            harness.submit(n)
            harness.takeActions()
            harness.finish(1, digits: digits(count: 4))
        }
        #expect(harness.scheduler.cache.bytes == 8)
        #expect(harness.submit(3)?.cached == true)
        #expect(harness.submit(1)?.state == .running, "evicted: computed again")
        #expect(harness.takeActions().compactMap(startedJob).map(\.job.n) == [1])
    }

    @Test func applyingSmallerLimitsShrinksTheCache() {
        let harness = SchedulerHarness()
        harness.ready(1)
        for n: UInt64 in [1, 2, 3] {
            harness.submit(n)
            harness.takeActions()
            harness.finish(1, digits: digits(count: 4))
        }
        var limits = harness.scheduler.limits
        limits.cacheBytes = 5
        harness.scheduler.apply(limits, now: harness.now)
        #expect(harness.scheduler.cache.count == 1)
        #expect(harness.scheduler.cache.contains(ComputationKey(n: 3, algorithm: .fast)))
        #expect(harness.scheduler.limits.cacheBytes == 5)
    }
}
