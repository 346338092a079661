/// The scheduler's tasks by id.
///
/// Ids are handed out in increasing order, and tasks are forgotten in about the order they came, so the recent
/// ones live in a window indexed by id: a lookup is an array read, not a hash and a probe, and the tasks of one
/// batch lie side by side in memory. A task the window moved on from (one that outlived many later ones, or a
/// sparse run of old ones taken back at start-up) waits in a dictionary of stragglers.
///
/// The window's slots are a ring whose size is a power of two. It grows (doubling) only if at least half of the
/// slots it would span then hold a task; a window that would have to grow while sparser than that hands its tasks
/// to the stragglers and starts afresh at the new id. So the ring never has more than four times the most tasks
/// the window held, and no task waits for a window to reach it.
struct TaskTable {
    private var ring: [FibTask?] = []
    /// Ring index of the window's first slot, whose id is `base`.
    private var head = 0
    private var base: UInt64 = 0
    /// Slots the window spans: ids `base ..< base + span`. The first one, if any, holds a task.
    private var span = 0
    private var inWindow = 0
    private var stragglers: [TaskID: FibTask] = [:]

    /// The fewest slots the ring has once it holds a task.
    static let initialSlots = 64

    var count: Int { inWindow + stragglers.count }

    /// Slots of the ring now: for tests of its bound.
    var slotCount: Int { ring.count }

    /// Tasks kept apart from the window: for tests.
    var stragglerCount: Int { stragglers.count }

    private func slot(of id: TaskID) -> Int? {
        guard id.rawValue >= base, id.rawValue - base < UInt64(span) else { return nil }
        return (head &+ Int(id.rawValue - base)) & (ring.count - 1)
    }

    // An id is kept in one place only: in the window's slot or among the stragglers. A straggler's id may fall
    // inside a later window (one started afresh below it), so a slot without a task still asks the stragglers.

    subscript(id: TaskID) -> FibTask? {
        get {
            if let slot = slot(of: id), let task = ring[slot] { return task }
            return stragglers.isEmpty ? nil : stragglers[id]
        }
        set {
            if let task = newValue {
                insert(task, id: id)
            } else {
                removeValue(forKey: id)
            }
        }
    }

    /// Whether the task `id` is kept; looks at its slot without copying the task out.
    func contains(_ id: TaskID) -> Bool {
        if let slot = slot(of: id), isOccupied(slot) { return true }
        return !stragglers.isEmpty && stragglers.index(forKey: id) != nil
    }

    /// Reads the slot in place: `ring[slot] != nil` would copy the task out (and retain its result and error).
    private func isOccupied(_ slot: Int) -> Bool {
        ring.withUnsafeBufferPointer { $0[slot] != nil }
    }

    /// Changes the task `id` in place (no copy of it, nor of its result), if there is one.
    @discardableResult
    mutating func modify<Result>(_ id: TaskID, _ body: (inout FibTask) -> Result) -> Result? {
        if let slot = slot(of: id), var task = ring[slot].take() {
            defer { ring[slot] = task }
            return body(&task)
        }
        guard !stragglers.isEmpty, let index = stragglers.index(forKey: id) else { return nil }
        return body(&stragglers.values[index])
    }

    @discardableResult
    mutating func removeValue(forKey id: TaskID) -> FibTask? {
        guard let slot = slot(of: id), let task = ring[slot].take() else {
            return stragglers.isEmpty ? nil : stragglers.removeValue(forKey: id)
        }
        inWindow -= 1
        // The window starts at a task: empty slots at its front are dropped (most tasks leave in order).
        while span > 0, !isOccupied(head) {
            head = (head + 1) & (ring.count - 1)
            base &+= 1
            span -= 1
        }
        return task
    }

    private mutating func insert(_ task: FibTask, id: TaskID) {
        if !stragglers.isEmpty, let index = stragglers.index(forKey: id) {
            stragglers.values[index] = task
            return
        }
        if let slot = slot(of: id) {
            if !isOccupied(slot) { inWindow += 1 }
            ring[slot] = task
            return
        }
        if id.rawValue < base, inWindow > 0 {
            stragglers[id] = task
            return
        }
        if inWindow == 0 {
            // An empty window starts at this id, wherever it was.
            base = id.rawValue
            head = 0
            span = 0
            if ring.isEmpty { ring = Array(repeating: nil, count: Self.initialSlots) }
        }
        let needed = id.rawValue - base + 1
        if needed > UInt64(ring.count) {
            if UInt64(inWindow + 1) * 2 >= needed, needed <= UInt64(ring.count) * 2 {
                grow()
            } else {
                // Too sparse to grow, or too far ahead: what the window holds becomes stragglers.
                moveWindowToStragglers()
                base = id.rawValue
                head = 0
            }
        }
        span = max(span, Int(id.rawValue - base) + 1)
        let slot = (head + Int(id.rawValue - base)) & (ring.count - 1)
        ring[slot] = task
        inWindow += 1
    }

    /// Doubles the ring, the window's slots first in order.
    private mutating func grow() {
        var grown: [FibTask?] = []
        grown.reserveCapacity(ring.count * 2)
        for offset in 0..<span { grown.append(ring[(head + offset) & (ring.count - 1)].take()) }
        grown.append(contentsOf: repeatElement(nil, count: ring.count * 2 - span))
        ring = grown
        head = 0
    }

    private mutating func moveWindowToStragglers() {
        for offset in 0..<span {
            let slot = (head + offset) & (ring.count - 1)
            if let task = ring[slot].take() { stragglers[task.id] = task }
        }
        inWindow = 0
        span = 0
    }
}
