import CSQLite
import Dispatch
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Copies the WAL into the database file on a connection and a thread of its own, so that no commit waits for a
/// checkpoint and its two fsyncs (milliseconds each on most disks): the writer only appends to the WAL.
///
/// A checkpoint runs when the writer says the WAL has grown past `thresholdFrames`, and when fibd has written
/// nothing for a second (then the checkpointer also starts the WAL afresh itself, so that the next commit does not
/// pay the fsync of a new WAL's header). It never blocks the writer: PASSIVE checkpoints take no lock a commit
/// needs. Past `capFrames` it stops and leaves the WAL to the writer, which checkpoints it itself (see
/// ``SQLiteTaskStore``), so that the file cannot grow without bound when checkpoints cannot keep up.
final class WALCheckpointer: @unchecked Sendable {
    /// Confined to `queue`; nil once stopped.
    private var database: SQLiteDatabase?
    private let queue = DispatchQueue(label: "fibd.store.checkpoint", qos: .utility)
    private let timer: any DispatchSourceTimer
    private let thresholdFrames: Int
    private let capFrames: Int
    /// Set while a checkpoint is asked for and has not started: one request at a time.
    private let requested = Atomic(false)
    /// Frames in the WAL after the writer's last commit.
    private let walFrames = Atomic(0)
    /// The WAL size (in frames) at which the next checkpoint is asked for: `thresholdFrames` past where the last
    /// one found it, so that a steady writer gets one checkpoint per `thresholdFrames` written, not one after
    /// another (each costs two fsyncs).
    private let nextRoundAt: Atomic<Int>
    /// Commits so far, to see when the writer is idle.
    private let commits = Atomic(0)
    /// On `queue`: the commit count at the last idle check, and at the last checkpoint that emptied the WAL.
    private var commitsAtLastTick = 0
    private var commitsAtLastEmpty = 0
    /// Checkpoints run so far (for tests and the curious).
    var checkpointCount: Int { checkpoints.load(ordering: .relaxed) }
    private let checkpoints = Atomic(0)

    /// How often the idle check runs.
    static let idleCheckInterval: DispatchTimeInterval = .seconds(1)

    init(path: String, thresholdFrames: Int, capFrames: Int) throws(SQLiteError) {
        let database = try SQLiteDatabase(path: path)
        // Its checkpoints sync the WAL before copying it and the database after: a power cut never leaves a
        // damaged file. Its idle write gives up at once if the writer is busy.
        try database.execute("PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0")
        database.setBusyTimeout(milliseconds: 0)
        self.database = database
        self.thresholdFrames = thresholdFrames
        self.capFrames = capFrames
        nextRoundAt = Atomic(thresholdFrames)
        timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(
            deadline: .now() + Self.idleCheckInterval, repeating: Self.idleCheckInterval, leeway: .seconds(1))
        timer.setEventHandler { [weak self] in self?.idleCheck() }
        timer.activate()
    }

    /// Called by the writer after each commit with the frames now in the WAL. Cheap: a few atomics, and a
    /// wake-up of the checkpointer's thread once per `thresholdFrames` written.
    func committed(walFrames frames: Int) {
        let previous = walFrames.exchange(frames, ordering: .relaxed)
        commits.add(1, ordering: .relaxed)
        // The WAL started afresh: count from its beginning again.
        if frames < previous { nextRoundAt.store(thresholdFrames, ordering: .relaxed) }
        guard frames >= nextRoundAt.load(ordering: .relaxed), frames < capFrames,
            requested.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged
        else { return }
        queue.async { self.checkpointRequested() }
    }

    /// Stops the idle checks, runs a last checkpoint and closes the connection, waiting at most `timeoutNanos`.
    func stop(timeoutNanos: UInt64) {
        let finished = DispatchSemaphore(value: 0)
        queue.async {
            self.timer.cancel()
            if let database = self.database {
                _ = try? database.checkpoint(SQLITE_CHECKPOINT_PASSIVE)
            }
            self.database = nil
            finished.signal()
        }
        _ = finished.wait(timeout: .now() + .nanoseconds(Int(min(timeoutNanos, UInt64(Int.max)))))
    }

    private func checkpointRequested() {
        requested.store(false, ordering: .relaxed)
        // Past the cap the writer checkpoints itself; a checkpoint here would only make it wait.
        guard walFrames.load(ordering: .relaxed) < capFrames else { return }
        if let (frames, _) = checkpoint() { nextRoundAt.store(frames + thresholdFrames, ordering: .relaxed) }
    }

    /// Checkpoints when fibd wrote something since the WAL was last emptied and nothing since the last tick.
    private func idleCheck() {
        let seen = commits.load(ordering: .relaxed)
        defer { commitsAtLastTick = seen }
        guard seen == commitsAtLastTick, seen != commitsAtLastEmpty else { return }
        guard let (frames, done) = checkpoint(), frames == done else { return }
        commitsAtLastEmpty = seen
        restartWAL()
    }

    /// One PASSIVE checkpoint: the WAL's frames and how many are in the database now; nil if it failed.
    @discardableResult
    private func checkpoint() -> (Int, Int)? {
        guard let database else { return nil }
        Self.lowerThreadPriority()
        checkpoints.add(1, ordering: .relaxed)
        return try? database.checkpoint(SQLITE_CHECKPOINT_PASSIVE)
    }

    /// The nice value of the thread that checkpoints.
    static let threadNiceness: Int32 = 10

    /// Lowers the priority of the calling thread (the queue's), once: a checkpoint copies megabytes and waits on
    /// the disk, and on a machine with few CPUs it took the CPU from the event loop and the workers, whose
    /// answers then waited behind it (the p99 of F(1) round trips fell from 811 to 652 µs at nice 10). At nice 10
    /// the kernel lets them preempt it, and it still gets about a tenth of a busy CPU, far more than it needs. Only this
    /// queue's work runs on libdispatch's threads in fibd, so the lowered thread serves nothing else. A thread may
    /// raise its nice value but not lower it again without CAP_SYS_NICE, so it is never put back.
    static func lowerThreadPriority() {
        // Linux keeps the nice value per thread, and PRIO_PROCESS with 0 names the calling thread alone.
        let which = __priority_which_t(PRIO_PROCESS.rawValue)
        errno = 0
        let current = getpriority(which, 0)
        guard errno == 0, current < threadNiceness else { return }
        _ = setpriority(which, 0, threadNiceness)
    }

    /// Starts the WAL from its beginning with a write of no consequence (the counters only rise), so that the
    /// fsync of the new WAL's header falls here and not on the next commit a client waits for. Gives up at once
    /// if the writer is writing.
    private func restartWAL() {
        guard let database else { return }
        do {
            try database.execute(
                "BEGIN IMMEDIATE; UPDATE counters SET value = value WHERE name = 'event_head'; COMMIT")
        } catch {
            try? database.execute("ROLLBACK")
        }
    }
}
