/// A min-heap: `pop` gives the smallest element. Used for the run queue and for deadlines (the scheduler's, and
/// the runtime's held long-polls). Inlinable, so that a user in another module gets it specialized.
public struct BinaryHeap<Element: Comparable> {
    @usableFromInline var storage: [Element] = []

    public init() {}

    @inlinable public var count: Int { storage.count }
    @inlinable public var isEmpty: Bool { storage.isEmpty }
    @inlinable public var min: Element? { storage.first }

    @inlinable public mutating func push(_ element: Element) {
        storage.append(element)
        var child = storage.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard storage[child] < storage[parent] else { break }
            storage.swapAt(child, parent)
            child = parent
        }
    }

    @discardableResult
    @inlinable public mutating func pop() -> Element? {
        guard !storage.isEmpty else { return nil }
        storage.swapAt(0, storage.count - 1)
        let smallest = storage.removeLast()
        siftDown(0)
        return smallest
    }

    /// Drops every element for which `isStale` is true, in O(n).
    @inlinable public mutating func removeAll(where isStale: (Element) -> Bool) {
        storage.removeAll(where: isStale)
        for index in stride(from: storage.count / 2 - 1, through: 0, by: -1) { siftDown(index) }
    }

    @usableFromInline mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallestChild = parent
            if left < storage.count, storage[left] < storage[smallestChild] { smallestChild = left }
            if right < storage.count, storage[right] < storage[smallestChild] { smallestChild = right }
            if smallestChild == parent { return }
            storage.swapAt(parent, smallestChild)
            parent = smallestChild
        }
    }
}
