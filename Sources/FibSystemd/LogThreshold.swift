import Logging
import Synchronization

/// The least severe level logged, shared by every logger of the process, so that a reload can change it.
///
/// A handler whose own `logLevel` was set keeps that one, as swift-log's value semantics ask.
public final class LogThreshold: Sendable {
    private let index: Atomic<Int>

    public init(_ level: Logger.Level) {
        index = Atomic(Self.levels.firstIndex(of: level) ?? 0)
    }

    public var level: Logger.Level {
        get { Self.levels[index.load(ordering: .relaxed)] }
        set { index.store(Self.levels.firstIndex(of: newValue) ?? 0, ordering: .relaxed) }
    }

    private static let levels = Logger.Level.allCases
}
