/// Durable state behind one interface, so that the scheduler never knows where (or in which process)
/// its tasks are kept.
///
/// The contract is a completion on purpose: apart from ``load()`` at start-up, the scheduler's owner only
/// hands over ``StateChanges`` and learns through a completion that they are durable. It never reads the store
/// while it runs and never holds a transaction open, so the store may be an embedded file (SQLite, the default:
/// it writes on the caller's thread and completes before returning, a WAL append with no fsync) or a server
/// several fibd nodes share (which would complete later, on a thread of its own).
///
/// How a PostgreSQL backend would serve the same operations, for several nodes sharing one queue:
/// - ``load()``: `SELECT` this node's unfinished tasks and the retained finished ones (results joined from a
///   `results` table keyed by n and algorithm); the event head from a sequence.
/// - ``commit(_:completion:)``: one transaction per group of changes, `INSERT ... ON CONFLICT (id) DO UPDATE`
///   for tasks, `DELETE` for forgotten ones, `INSERT` for events, then `NOTIFY fibd_tasks` so that the other
///   nodes wake up (`LISTEN`) instead of polling.
/// - Claims, added to this protocol when it serves several nodes: a node takes queued work with
///   `UPDATE tasks SET state = 'running', node = $me WHERE id IN (SELECT id FROM tasks WHERE state = 'queued'
///   ORDER BY priority DESC, id LIMIT $k FOR UPDATE SKIP LOCKED) RETURNING *`, and a node's running tasks are
///   requeued by whichever node sees its lease expire, the same rule ``Scheduler/restore(_:now:)`` applies
///   after a crash of this node.
public protocol TaskStore: AnyObject, Sendable {
    /// Everything kept: called once, before the scheduler starts.
    func load() throws(StoreError) -> StoredState

    /// Makes `changes` durable, after every earlier commit, and then calls `completion` with nil, or with the
    /// error that kept them from being written: either on the caller's thread before returning (a store that
    /// writes without waiting on a disk flush or a network) or later on a thread of the store's own.
    func commit(_ changes: StateChanges, completion: @escaping @Sendable (StoreError?) -> Void)

    /// Change sets handed over and not yet written: the store's backlog, for back-pressure.
    var pendingCommits: Int { get }

    /// Writes what is pending (waiting at most `timeoutNanos`) and closes the store; later commits fail.
    func close(timeoutNanos: UInt64)
}

/// Why the store could not be opened, read or written. The message names the file and what to do.
public struct StoreError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// What a store hands back at start-up.
public struct StoredState: Sendable {
    /// Every task kept, in id order, results filled in for the done ones.
    public var tasks: [FibTask]
    /// The newest events kept, in seq order (possibly with gaps where a write failed).
    public var events: [Event]
    /// The seq of the newest event ever written; new events continue after it.
    public var eventHead: UInt64
    /// Ids below this were handed out already (some may be forgotten): new ids start here at the least.
    public var nextTaskID: UInt64

    public init(tasks: [FibTask] = [], events: [Event] = [], eventHead: UInt64 = 0, nextTaskID: UInt64 = 0) {
        self.tasks = tasks
        self.events = events
        self.eventHead = eventHead
        self.nextTaskID = nextTaskID
    }
}

/// What changed in the scheduler since the last ``Scheduler/takeChanges()``: what a store must write.
public struct StateChanges: Sendable {
    /// The tasks that were added or changed, each as it is now (the latest state wins).
    public var tasks: [FibTask] = []
    /// Tasks the scheduler forgot (retention): delete them and results no other task needs.
    public var forgotten: [TaskID] = []
    /// New events, in seq order.
    public var events: [Event] = []
    /// The next task id the scheduler will hand out.
    public var nextTaskID: UInt64 = 0

    public init() {}

    public var isEmpty: Bool { tasks.isEmpty && forgotten.isEmpty && events.isEmpty }
}

/// What ``Scheduler/restore(_:now:)`` did with the stored tasks, for the start-up log.
public struct RestoreSummary: Sendable, Equatable {
    /// Finished tasks kept with their results (or errors).
    public var finished = 0
    /// Tasks that were queued and are queued again.
    public var queued = 0
    /// Tasks that were running when fibd stopped and are queued again, the attempt counted.
    public var requeued = 0
    /// Tasks that were running when fibd stopped for the last allowed time: failed.
    public var failed = 0
    /// Finished tasks forgotten at once because retention had passed while fibd was down.
    public var forgotten = 0
}
