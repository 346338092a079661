import FibMath
import Testing

@testable import FibCore

private func task(_ id: UInt64, n: UInt64 = 1) -> FibTask {
    FibTask(
        id: TaskID(rawValue: id), n: n, algorithm: .fast, priority: 0, timeoutNanos: 1, state: .queued, attempts: 0,
        submittedAt: 0)
}

@Suite("Task table")
struct TaskTableTests {
    @Test func tasksThatComeAndGoInOrderStayInASmallWindow() {
        var table = TaskTable()
        var next: UInt64 = 1_000_000
        for _ in 0..<100_000 {
            table[TaskID(rawValue: next)] = task(next)
            next += 1
            // 500 alive at a time, forgotten oldest first.
            if table.count > 500 { table[TaskID(rawValue: next - 501)] = nil }
        }
        #expect(table.count == 500)
        #expect(table.stragglerCount == 0)
        #expect(table.slotCount <= 1024, "\(table.slotCount) slots for 500 tasks")
        #expect(table[TaskID(rawValue: next - 1)]?.id.rawValue == next - 1)
        #expect(table[TaskID(rawValue: next - 500)] != nil && table[TaskID(rawValue: next - 501)] == nil)
    }

    @Test func anOldTaskThatStaysDoesNotHoldTheWindowOpen() {
        var table = TaskTable()
        table[TaskID(rawValue: 1)] = task(1)
        for id in UInt64(2)..<200_000 {
            table[TaskID(rawValue: id)] = task(id)
            if id > 101 { table[TaskID(rawValue: id - 100)] = nil }
        }
        #expect(table.count == 101)
        #expect(table[TaskID(rawValue: 1)]?.id.rawValue == 1, "kept, as a straggler")
        #expect(table.slotCount <= 1024, "\(table.slotCount) slots for 101 tasks")
        table[TaskID(rawValue: 1)] = nil
        #expect(table[TaskID(rawValue: 1)] == nil && table.count == 100)
    }

    @Test func sparseIdsTakenBackAtStartNeedNoHugeWindow() {
        var table = TaskTable()
        let ids: [UInt64] = [10, 1_000_000, 5_000_000_000, 5_000_000_001, UInt64.max - 1]
        for id in ids { table[TaskID(rawValue: id)] = task(id) }
        #expect(table.count == ids.count)
        #expect(ids.allSatisfy { table[TaskID(rawValue: $0)]?.id.rawValue == $0 })
        #expect(table.slotCount <= TaskTable.initialSlots)
        #expect(table[TaskID(rawValue: 11)] == nil && table[TaskID(rawValue: UInt64.max)] == nil)
    }

    @Test func aStragglerIsFoundInsideAWindowStartedAfreshBelowIt() {
        var table = TaskTable()
        table[TaskID(rawValue: 500)] = task(500)
        table[TaskID(rawValue: 10_000)] = task(10_000)  // far ahead: 500 becomes a straggler
        table[TaskID(rawValue: 10_000)] = nil  // the window is empty
        table[TaskID(rawValue: 400)] = task(400)  // and starts afresh below the straggler
        for id in UInt64(401)...600 where id != 500 { table[TaskID(rawValue: id)] = task(id) }
        #expect(table.count == 201)
        #expect(table[TaskID(rawValue: 500)]?.id.rawValue == 500)
        table[TaskID(rawValue: 500)] = task(500, n: 7)  // an update stays where the task is
        #expect(table.stragglerCount == 1 && table[TaskID(rawValue: 500)]?.n == 7)
        #expect(table.contains(TaskID(rawValue: 500)) && table.contains(TaskID(rawValue: 400)))
        #expect(table.modify(TaskID(rawValue: 500)) { $0.n } == 7)
        #expect(table.removeValue(forKey: TaskID(rawValue: 500))?.n == 7)
        #expect(table[TaskID(rawValue: 500)] == nil && table.count == 200)
        #expect(!table.contains(TaskID(rawValue: 500)) && !table.contains(TaskID(rawValue: 10_000)))
    }

    @Test func modifyChangesTheStoredTaskAndOnlyAnExistingOne() {
        var table = TaskTable()
        table[TaskID(rawValue: 5)] = task(5)
        table[TaskID(rawValue: 500)] = task(500)
        table[TaskID(rawValue: 4)] = task(4)  // behind the window: a straggler
        for id: UInt64 in [4, 5, 500] {
            let attempts = table.modify(TaskID(rawValue: id)) { task -> Int in
                task.attempts += 2
                return task.attempts
            }
            #expect(attempts == 2)
            #expect(table[TaskID(rawValue: id)]?.attempts == 2)
        }
        #expect(table.modify(TaskID(rawValue: 6)) { _ in true } == nil)
        table[TaskID(rawValue: 5)] = nil
        #expect(table.modify(TaskID(rawValue: 5)) { _ in true } == nil)
    }

    /// Random inserts (mostly new ids, some old ones), removals and changes, checked against a dictionary.
    @Test(arguments: [1, 2, 3, 4, 5] as [UInt64])
    func itAgreesWithADictionary(seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        var table = TaskTable()
        var model: [UInt64: FibTask] = [:]
        var next: UInt64 = 1 + UInt64.random(in: 0..<1_000, using: &generator)
        var peak = 0
        for step in 0..<20_000 {
            let roll = Int.random(in: 0..<100, using: &generator)
            switch roll {
            case 0..<45:
                let id = next
                next += UInt64.random(in: 1...(roll < 2 ? 5_000 : 3), using: &generator)
                table[TaskID(rawValue: id)] = task(id, n: UInt64(step))
                model[id] = task(id, n: UInt64(step))
            case 45..<50:
                let id = UInt64.random(in: 0..<next, using: &generator)
                table[TaskID(rawValue: id)] = task(id, n: UInt64(step))
                model[id] = task(id, n: UInt64(step))
            case 50..<90:
                // Mostly the oldest, as retention forgets; sometimes any.
                let keys = model.keys
                guard let victim = roll < 80 ? keys.min() : keys.randomElement(using: &generator) else { continue }
                #expect(table.removeValue(forKey: TaskID(rawValue: victim))?.id.rawValue == victim)
                model[victim] = nil
            default:
                guard let id = model.keys.randomElement(using: &generator) else { continue }
                table.modify(TaskID(rawValue: id)) { $0.attempts += 1 }
                model[id]?.attempts += 1
            }
            #expect(table.count == model.count)
            peak = max(peak, model.count)
            let probe = UInt64.random(in: 0..<(next + 10), using: &generator)
            #expect(table[TaskID(rawValue: probe)]?.n == model[probe]?.n)
            #expect(table.contains(TaskID(rawValue: probe)) == (model[probe] != nil))
        }
        for (id, expected) in model {
            #expect(table.contains(TaskID(rawValue: id)))
            let found = table[TaskID(rawValue: id)]
            #expect(found?.n == expected.n && found?.attempts == expected.attempts)
        }
        // The ring grows only while at least half the slots it spans hold a task.
        #expect(table.slotCount <= 4 * max(peak, TaskTable.initialSlots), "\(table.slotCount) slots, peak \(peak)")
    }
}
