/// Where a task is in its life: `queued` -> `running` -> `done` | `failed` |
/// `cancelled` | `timed_out`, and `queued` -> `cancelled`.
public enum TaskState: String, Sendable, CaseIterable, Hashable {
    case queued
    case running
    case done
    case failed
    case cancelled
    case timedOut = "timed_out"

    /// True once the task can change no more.
    public var isFinal: Bool {
        switch self {
        case .queued, .running: return false
        case .done, .failed, .cancelled, .timedOut: return true
        }
    }
}
