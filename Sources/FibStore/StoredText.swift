import FibCore
import FibMath

// The text columns that hold an enum's raw value, as static strings: SQLite binds them without a copy (four of
// them for every task that runs), where a String's bytes would be copied for each statement.

extension Algorithm {
    /// The same text as `rawValue`.
    var storedText: StaticString {
        switch self {
        case .fast: return "fast"
        case .recursive: return "recursive"
        }
    }
}

extension TaskState {
    /// The same text as `rawValue`.
    var storedText: StaticString {
        switch self {
        case .queued: return "queued"
        case .running: return "running"
        case .done: return "done"
        case .failed: return "failed"
        case .cancelled: return "cancelled"
        case .timedOut: return "timed_out"
        }
    }
}
