/// The fixed MESSAGE_ID of each kind of event fibd logs, so that `journalctl MESSAGE_ID=...` finds
/// every one of them whatever the wording. Documented in fibd(8); never change an id once released.
public enum FibdMessageID {
    public static let taskSubmitted = "4732d7fc414545659def84f714a2ba25"
    public static let taskStarted = "6ce776e12935403b827769963415e56d"
    public static let taskDone = "fabf8ede67124a68914e171ac50e88eb"
    public static let taskFailed = "2ea432ab6ff941e794d6417ad37ba59b"
    public static let taskCancelled = "d7dd0effc2464f42b2b19314eabad46b"
    public static let taskTimedOut = "efccf564de1543849169ef8c130062b9"
    public static let workerSpawned = "7d6793f72f83418094925c00f65e93e1"
    /// A worker died unasked (crash, OOM kill, a signal from outside).
    public static let workerDied = "1333e48b36fe43278ba2334ca9d55c52"
    /// A worker ended because the pool asked it to (cancel, timeout, shrink, shutdown).
    public static let workerExited = "e450342ca48f4dba88f3f1a558199947"
    /// The configuration was reloaded (SIGHUP), or a reload was refused.
    public static let reload = "efd1f536878043b595fe295284f79303"
    /// The daemon began to stop (SIGTERM or SIGINT).
    public static let stop = "7e99c780eb4544de98048d2fcb9537fe"
    /// The daemon is ready: listeners open, every worker answered.
    public static let ready = "7cc37b6f0f644c43af1bc04533764412"

    /// The id for a log message, by its fixed text; nil for messages that are no event of their own.
    /// A `message_id` metadata value, when present, wins over this table.
    public static func forMessage(_ message: String) -> String? {
        byMessage[message]
    }

    static let byMessage: [String: String] = [
        "task submitted": taskSubmitted,
        "task started": taskStarted,
        "task done": taskDone,
        "task failed": taskFailed,
        "task cancelled": taskCancelled,
        "task timed_out": taskTimedOut,
        "task timed out": taskTimedOut,
        "worker spawned": workerSpawned,
        "worker died": workerDied,
        "worker exited": workerExited,
        "configuration reloaded": reload,
        "reload failed": reload,
        "stopping": stop,
        "fibd is ready": ready,
    ]
}
