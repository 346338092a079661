import FibCore
import FibStore
import Logging

/// Where fibd keeps its state, in this order: `--state-dir` (or `state-dir` in the config file, or
/// FIBD_STATE_DIR); `$STATE_DIRECTORY`, which systemd sets from StateDirectory= (the first one if it names
/// several); `$XDG_STATE_HOME/fibd`; `$HOME/.local/state/fibd`. Nil if none of these can be found.
func stateDirectory(configured: String?, environment: [String: String]) -> String? {
    if let configured, !configured.isEmpty { return configured }
    if let systemd = environment["STATE_DIRECTORY"]?.split(separator: ":").first, !systemd.isEmpty {
        return String(systemd)
    }
    if let xdg = environment["XDG_STATE_HOME"], xdg.hasPrefix("/") { return xdg + "/fibd" }
    if let home = environment["HOME"], home.hasPrefix("/") { return home + "/.local/state/fibd" }
    return nil
}

/// The durable state, opened and read at start-up, before the scheduler exists.
struct OpenedState {
    var store: SQLiteTaskStore
    var stored: StoredState

    /// How long a stop waits for the last commits.
    static let closeTimeoutNanos: UInt64 = 10 * nanosPerSecond

    /// Opens the database in the state directory and reads it.
    /// - Throws: a ``StoreError`` naming the file and what to do; fibd then exits without touching it.
    static func open(configuration: Configuration, environment: [String: String]) throws(StoreError) -> OpenedState {
        guard let directory = stateDirectory(configured: configuration.stateDirectory, environment: environment)
        else {
            throw StoreError(
                "no state directory: give one with --state-dir (or state-dir in the config file); "
                    + "neither STATE_DIRECTORY, XDG_STATE_HOME nor HOME is set")
        }
        let store = try SQLiteTaskStore(directory: directory, eventCapacity: configuration.limits.eventLogCapacity)
        return OpenedState(store: store, stored: try store.load())
    }
}

/// Says at start-up where the state is and what was taken back from it.
func logRestore(_ summary: RestoreSummary?, path: String, logger: Logger) {
    guard let summary else { return }
    logger.info(
        "state in \(path)",
        metadata: [
            "finished": "\(summary.finished)", "queued": "\(summary.queued)", "requeued": "\(summary.requeued)",
            "failed": "\(summary.failed)", "forgotten": "\(summary.forgotten)",
        ])
}
