import FibMath

/// What a computation is: the same n with the same algorithm always gives the same digits.
public struct ComputationKey: Hashable, Sendable {
    public var n: UInt64
    public var algorithm: Algorithm
    /// The one task an unshared computation is for (a task submitted with `shared: false`), so that no
    /// identical task joins it; nil for a computation identical tasks share. Results are cached under
    /// ``shared``, never under a key with a task.
    public var unsharedTask: TaskID?

    public init(n: UInt64, algorithm: Algorithm, unsharedTask: TaskID? = nil) {
        self.n = n
        self.algorithm = algorithm
        self.unsharedTask = unsharedTask
    }

    /// The key of `task`'s computation: its own when it is unshared.
    public init(of task: FibTask) {
        self.init(n: task.n, algorithm: task.algorithm, unsharedTask: task.shared ? nil : task.id)
    }

    /// The same computation as identical shared tasks see it: the key its result is cached under.
    public var shared: ComputationKey { ComputationKey(n: n, algorithm: algorithm) }

    /// As ``TaskID``'s: mixed inline (n comes from clients, but the table's seed, random per process, keeps them
    /// from aiming at one bucket); the algorithm (whose own hash would be its name's) flips the top bit, and an
    /// unshared computation's task is mixed in after.
    @inlinable
    public func _rawHashValue(seed: Int) -> Int {
        let computation = mixedHash(algorithm == .fast ? n : n ^ (1 << 63), seed: seed)
        guard let unsharedTask else { return computation }
        return mixedHash(unsharedTask.rawValue, seed: computation)
    }
}

/// Finished results kept for reuse, least recently used first out, bounded in bytes.
public struct ResultCache: Sendable {
    private struct Entry {
        var digits: [UInt8]
        var lastUse: UInt64
    }

    private var entries: [ComputationKey: Entry] = [:]
    /// Use stamps in order; stale stamps (an entry used again since) are skipped on eviction.
    private var useOrder: [(stamp: UInt64, key: ComputationKey)] = []
    private var useOrderStart = 0
    private var clock: UInt64 = 0
    public private(set) var capacityBytes: Int
    public private(set) var bytes = 0
    public private(set) var hits = 0
    public private(set) var misses = 0

    public init(capacityBytes: Int) {
        self.capacityBytes = capacityBytes
    }

    public var count: Int { entries.count }

    /// The digits for `key`, if kept; marks them recently used.
    public mutating func lookup(_ key: ComputationKey) -> [UInt8]? {
        guard var entry = entries[key] else {
            misses += 1
            return nil
        }
        hits += 1
        clock += 1
        entry.lastUse = clock
        entries[key] = entry
        recordUse(clock, key)
        return entry.digits
    }

    /// Whether `key` is kept, without counting a hit or a miss.
    public func contains(_ key: ComputationKey) -> Bool { entries[key] != nil }

    /// The bytes kept for each key (the memory-by-key status view); walks every entry, so only when asked.
    public func bytesPerKey() -> [(key: ComputationKey, bytes: Int)] {
        entries.map { ($0.key, $0.value.digits.count) }
    }

    /// Keeps `digits` for `key` unless they alone exceed the capacity; evicts the least recently used.
    public mutating func insert(_ digits: [UInt8], for key: ComputationKey) {
        guard digits.count <= capacityBytes else { return }
        if let old = entries[key] { bytes -= old.digits.count }
        clock += 1
        entries[key] = Entry(digits: digits, lastUse: clock)
        bytes += digits.count
        recordUse(clock, key)
        evictToCapacity()
    }

    /// Changes the bound, evicting the least recently used entries if it shrank.
    public mutating func setCapacity(_ newCapacity: Int) {
        capacityBytes = max(0, newCapacity)
        evictToCapacity()
    }

    private mutating func evictToCapacity() {
        while bytes > capacityBytes, useOrderStart < useOrder.count {
            let (stamp, victim) = useOrder[useOrderStart]
            useOrderStart += 1
            if let entry = entries[victim], entry.lastUse == stamp {
                entries[victim] = nil
                bytes -= entry.digits.count
            }
        }
        compactUseOrder()
    }

    private mutating func recordUse(_ stamp: UInt64, _ key: ComputationKey) {
        useOrder.append((stamp, key))
        compactUseOrder()
    }

    /// Keeps the use log within a small multiple of the entries, so repeated hits cannot grow it without bound.
    private mutating func compactUseOrder() {
        let live = useOrder.count - useOrderStart
        guard live > 64, live > 4 * entries.count else {
            if useOrderStart > 1024, useOrderStart * 2 > useOrder.count {
                useOrder.removeFirst(useOrderStart)
                useOrderStart = 0
            }
            return
        }
        useOrder = useOrder[useOrderStart...].filter { entries[$0.key]?.lastUse == $0.stamp }
        useOrderStart = 0
    }
}
