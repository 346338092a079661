import FibCore
import Logging
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#endif

/// The pool of `fibd worker` processes: spawns them, hands them jobs, reaps and respawns them.
///
/// Every slot runs one process at a time. A process may be sent several jobs before it answers (the
/// scheduler does so with trivial ones); it answers them in order. The frames sent to a process during one
/// turn of the event loop go out in one write at the end of the turn, so that a burst of jobs costs one
/// system call and one wake-up of the worker. A process that dies is reaped (no
/// zombie is ever left), reported with `workerExited`, and replaced: at once after ``kill(_:)``;
/// at once too after a death the pool did not cause (an operator's kill, the OOM killer) of a worker
/// that had said hello and lived longer than the slot's backoff, since replacing it cannot then spin
/// faster than the backoff would; else after the backoff (100 ms doubling to 5 s, reset when the slot
/// answers a job).
///
/// All state is confined to `eventLoop`: call every method there (each one checks), and the
/// delegate is called there. The type is `@unchecked Sendable` only so that callers and NIO's
/// `@Sendable` callbacks can carry it to that loop; it is never touched from anywhere else.
///
/// Workers get `PR_SET_PDEATHSIG = SIGKILL`, which the kernel fires when the *thread* that
/// spawned them ends: shut the pool down (``shutdown()``) before its event loop.
public final class WorkerPool: WorkerPoolControl, @unchecked Sendable {
    /// Receives the pool's reports. Held weakly: the owner of both keeps the delegate alive.
    public weak var delegate: (any WorkerPoolDelegate)?
    public let eventLoop: any EventLoop

    private let spawner: WorkerSpawner
    private var logger: Logger
    private var slots: [WorkerID: WorkerSlot] = [:]
    private var nextSlotID: WorkerID = 0
    private var targetCount: Int
    private var started = false
    private var shutdownPromise: EventLoopPromise<Void>?
    /// Slots with frames waiting for the end of this loop turn, and whether that flush is scheduled.
    private var slotsToFlush: [WorkerID] = []
    private var flushScheduled = false

    /// The most jobs a slot may have unanswered: a guard against a runaway caller (the scheduler keeps
    /// its own, smaller bound).
    static let maxJobsPerSlot = 1024

    /// First and largest delays before respawning a slot whose process died unasked.
    static let crashBackoffRange: (first: TimeAmount, last: TimeAmount) = (.milliseconds(100), .seconds(5))
    /// First and largest delays between waitpid polls: the socket closes a moment before the zombie appears.
    static let reapPollRange: (first: TimeAmount, last: TimeAmount) = (.microseconds(200), .milliseconds(50))
    /// How long a closed worker may take to become reapable before it is SIGKILLed and waited for.
    static let reapPollLimit: TimeAmount = .seconds(5)

    /// - Parameters:
    ///   - count: the number of worker processes (at least 1); `usableCPUCount()` is the usual choice.
    ///   - executable: the fibd binary; the running one by default.
    ///   - eventLoop: the loop that owns the pool; it must be a `MultiThreadedEventLoopGroup` loop.
    ///   - logger: where spawns and deaths are logged.
    public init(count: Int, executable: String = "/proc/self/exe", eventLoop: any EventLoop, logger: Logger) {
        self.targetCount = max(count, 1)
        self.eventLoop = eventLoop
        self.logger = logger
        self.spawner = WorkerSpawner(executable: executable, parentEnvironment: WorkerSpawner.currentEnvironment())
    }

    /// The number of workers the pool keeps (slots on their way out not counted).
    public var count: Int {
        eventLoop.preconditionInEventLoop()
        return targetCount
    }

    /// Spawns every slot. Each reports `workerReady` once its process says hello.
    public func start() {
        eventLoop.preconditionInEventLoop()
        guard !started, shutdownPromise == nil else { return }
        started = true
        Self.keepChildrenReapable(logger: logger)
        for _ in 0..<targetCount {
            addSlot()
        }
    }

    // MARK: WorkerPoolControl

    /// Sends `job` to `worker`, which must have reported ready; it may have other jobs unanswered, which
    /// it answers first. The frame goes out with the others sent to the worker in this loop turn.
    ///
    /// If the worker's process has died and its exit is not reported yet, the job is kept as one of the
    /// slot's jobs and is covered by the coming `workerExited`.
    public func start(_ job: Job, on worker: WorkerID) {
        eventLoop.preconditionInEventLoop()
        guard let slot = slots[worker] else {
            misuse("start(\(job.id)) on unknown worker \(worker)")
            return
        }
        switch slot.phase {
        // A slot that is leaving answers every job it has before it goes, a job sent before the scheduler
        // heard of the departure too (an idle one is closed at once, so it is idle here only while its
        // last answer is being reported).
        case .idle, .busy:
            guard slot.jobIDs.count < Self.maxJobsPerSlot else {
                misuse("start(\(job.id)) on worker \(worker), which has \(slot.jobIDs.count) jobs unanswered")
                return
            }
            guard let channel = slot.process?.channel else {
                misuse("start(\(job.id)) on worker \(worker) without a channel")
                return
            }
            slot.phase = .busy
            slot.jobIDs.append(job.id)
            var frames = slot.pendingFrames ?? channel.allocator.buffer(capacity: 256)
            slot.pendingFrames = nil  // so that the buffer is not shared while it grows
            if frames.readableBytes == 0 { slotsToFlush.append(worker) }
            WorkerCommand.compute(job).encode(into: &frames)
            slot.pendingFrames = frames
            scheduleFlush()
        case .stopping, .reaping:
            slot.jobIDs.append(job.id)
        case .starting, .waiting:
            misuse("start(\(job.id)) on worker \(worker), which is \(slot.phase)\(slot.retiring ? " and leaving" : "")")
        }
    }

    /// Writes the frames of this loop turn once the turn's other work (the reads that answered jobs, the
    /// requests that submitted them) is done.
    private func scheduleFlush() {
        guard !flushScheduled else { return }
        flushScheduled = true
        eventLoop.execute { self.flushPendingFrames() }
    }

    private func flushPendingFrames() {
        flushScheduled = false
        let ids = slotsToFlush
        slotsToFlush = []
        for id in ids {
            guard let slot = slots[id], let frames = slot.pendingFrames else { continue }
            slot.pendingFrames = nil
            // Frames for a process that was killed meanwhile go with it.
            guard slot.phase == .busy, let channel = slot.process?.channel else { continue }
            // A failed write closes the channel; the death is reported like any other.
            channel.writeAndFlush(frames, promise: nil)
        }
    }

    /// SIGKILLs the worker's process (if it has one); the slot is reaped, reported with
    /// `workerExited` and respawned at once. A late answer from the killed process is dropped.
    public func kill(_ worker: WorkerID) {
        eventLoop.preconditionInEventLoop()
        guard let slot = slots[worker], let process = slot.process else { return }
        if process.stopReason == nil {
            slot.process?.stopReason = .requestedKill
        }
        if slot.phase != .reaping {
            slot.phase = .stopping
        }
        _ = Glibc.kill(process.pid, SIGKILL)
    }

    // MARK: Pool management

    /// Grows or shrinks the pool to `count` workers (at least 1). New slots spawn at once; idle
    /// slots leave at once, busy ones when their jobs end (`jobFinished` is still reported).
    /// A leaving slot reports `workerExited` and is never ready again.
    ///
    /// - Returns: the slots that leave; start no job on them.
    @discardableResult
    public func resize(to count: Int) -> [WorkerID] {
        eventLoop.preconditionInEventLoop()
        guard shutdownPromise == nil else { return [] }
        let newCount = max(count, 1)
        let staying = slots.values.filter { !$0.retiring }
        targetCount = newCount
        if staying.count < newCount {
            if started {
                for _ in staying.count..<newCount { addSlot() }
            }
            return []
        }
        // Leave first the slots that cost least to stop: no process, then idle, then busy.
        let order: (WorkerSlot) -> Int = { slot in
            switch slot.phase {
            case .waiting, .stopping, .reaping: return 0
            case .starting: return 1
            case .idle: return 2
            case .busy: return 3
            }
        }
        let leaving = staying.sorted { (order($0), -$0.id) < (order($1), -$1.id) }.prefix(staying.count - newCount)
        for slot in leaving {
            retire(slot)
        }
        return leaving.map(\.id)
    }

    /// Kills every worker, reaps them all (each reported with `workerExited`) and completes.
    /// The pool takes no more jobs afterwards.
    public func shutdown() -> EventLoopFuture<Void> {
        eventLoop.preconditionInEventLoop()
        if let promise = shutdownPromise { return promise.futureResult }
        let promise = eventLoop.makePromise(of: Void.self)
        shutdownPromise = promise
        for slot in Array(slots.values) {
            slot.respawnTask?.cancel()
            slot.respawnTask = nil
            guard let process = slot.process else {
                slots[slot.id] = nil
                continue
            }
            slot.process?.stopReason = .shutdown
            if slot.phase != .reaping {
                slot.phase = .stopping
                _ = Glibc.kill(process.pid, SIGKILL)
            }
        }
        completeShutdownIfDone()
        return promise.futureResult
    }

    /// The slots as they are now, in id order, with CPU time and memory read from /proc.
    public func snapshot() -> [WorkerInfo] {
        eventLoop.preconditionInEventLoop()
        return slots.values.sorted { $0.id < $1.id }.map { slot in
            let live = slot.phase.hasLiveProcess ? slot.process : nil
            let sample = live.flatMap { ProcessSample.read(pid: $0.pid) }
            return WorkerInfo(
                id: slot.id,
                pid: live?.pid,
                state: slot.phase.publicState,
                jobID: slot.jobIDs.first,
                spawnedAtNanos: live?.spawnedAtNanos,
                restarts: slot.restarts,
                bytesReceived: slot.bytesReceived,
                cpuSeconds: sample?.cpuSeconds,
                residentBytes: sample?.residentBytes
            )
        }
    }

    // MARK: Events from the worker channels

    func channelAttached(_ channel: any Channel, slot id: WorkerID, pid: Int32) {
        guard let slot = slots[id], slot.process?.pid == pid else { return }
        slot.process?.channel = channel
    }

    func received(_ report: WorkerReport, slot id: WorkerID, pid: Int32) {
        eventLoop.preconditionInEventLoop()
        guard let slot = slots[id], slot.process?.pid == pid else { return }
        slot.bytesReceived &+= UInt64(report.encodedLength)
        // A process on its way out may still have frames in the socket: they are stale, not violations.
        guard slot.phase != .stopping && slot.phase != .reaping else { return }
        switch report {
        case .hello(let announced):
            guard slot.phase == .starting else {
                violation(slot, "a second hello")
                return
            }
            if announced != UInt32(truncatingIfNeeded: pid) {
                logger.warning(
                    "worker announced another pid",
                    metadata: metadata(slot, pid: pid).merging(["worker.announced": "\(announced)"]) { $1 }
                )
            }
            slot.phase = .idle
            slot.process?.saidHello = true
            if slot.retiring {
                retire(slot)
                return
            }
            logger.debug("worker ready", metadata: metadata(slot, pid: pid))
            delegate?.workerReady(id, pid: pid)
        case .result(let jobID, let result):
            finishJob(slot, pid: pid, jobID: jobID, outcome: .success(result))
        case .failure(let jobID, let message):
            finishJob(slot, pid: pid, jobID: jobID, outcome: .failure(message))
        }
    }

    /// A read from the worker's channel ended: the answers it held are reported together.
    func readComplete(slot id: WorkerID, pid: Int32) {
        eventLoop.preconditionInEventLoop()
        guard let slot = slots[id], slot.process?.pid == pid else { return }
        reportAnswers(slot)
    }

    func channelFailed(_ error: any Error, slot id: WorkerID, pid: Int32) {
        eventLoop.preconditionInEventLoop()
        if let slot = slots[id], slot.process?.pid == pid { reportAnswers(slot) }
        guard let slot = slots[id], slot.process?.pid == pid, slot.phase != .stopping else { return }
        if error is WorkerProtocolError || error is ByteToMessageDecoderError {
            violation(slot, "\(error)")
        } else {
            logger.debug("worker channel error", metadata: metadata(slot, pid: pid, ["error": "\(error)"]))
        }
    }

    /// The worker's socket closed: its process has exited or is about to. Reap it.
    func channelClosed(slot id: WorkerID, pid: Int32) {
        eventLoop.preconditionInEventLoop()
        if let slot = slots[id], slot.process?.pid == pid { reportAnswers(slot) }
        guard let slot = slots[id], slot.process?.pid == pid, slot.phase != .reaping else { return }
        slot.phase = .reaping
        slot.process?.channel = nil
        reap(slot: id, pid: pid, delay: Self.reapPollRange.first, deadline: .now() + Self.reapPollLimit)
    }

    // MARK: Spawning

    private func addSlot() {
        let slot = WorkerSlot(id: nextSlotID, backoff: Self.crashBackoffRange.first)
        nextSlotID += 1
        slots[slot.id] = slot
        spawn(slot)
    }

    private func spawn(_ slot: WorkerSlot) {
        slot.respawnTask = nil
        guard shutdownPromise == nil, !slot.retiring else {
            slots[slot.id] = nil
            completeShutdownIfDone()
            return
        }
        let spawned: SpawnedWorker
        do {
            spawned = try spawner.spawn()
        } catch {
            logger.error("cannot spawn worker", metadata: metadata(slot, pid: nil, ["error": "\(error)"]))
            slot.phase = .waiting
            scheduleRespawn(slot, after: slot.takeBackoff(limit: Self.crashBackoffRange.last))
            return
        }
        slot.process = WorkerProcess(pid: spawned.pid, spawnedAtNanos: monotonicNanos())
        slot.phase = .starting
        logger.info("worker spawned", metadata: metadata(slot, pid: spawned.pid))
        attachChannel(spawned, slot: slot.id)
    }

    private func attachChannel(_ spawned: SpawnedWorker, slot id: WorkerID) {
        let pid = spawned.pid
        let output = fcntl(spawned.descriptor, F_DUPFD_CLOEXEC, 0)
        guard output >= 0, let bootstrap = NIOPipeBootstrap(validatingGroup: eventLoop) else {
            let code = errno
            if output >= 0 { close(output) }
            close(spawned.descriptor)
            channelSetupFailed(slot: id, pid: pid, reason: "cannot adopt the worker socket: \(errnoDescription(code))")
            return
        }
        bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers(
                        ByteToMessageHandler(
                            WorkerReportDecoder(),
                            maximumBufferSize: WorkerReportDecoder.maximumBufferSize
                        ),
                        WorkerChannelHandler(pool: self, slot: id, pid: pid)
                    )
                }
            }
            // Two descriptors for one socket (NIO's pipe channel wants distinct ones), both close-on-exec.
            .takingOwnershipOfDescriptors(input: spawned.descriptor, output: output)
            .whenFailure { error in
                // NIO may or may not have closed the descriptors by now: leave them rather than
                // risk closing someone else's. This only happens if epoll refuses the socket.
                self.channelSetupFailed(slot: id, pid: pid, reason: "cannot adopt the worker socket: \(error)")
            }
    }

    private func channelSetupFailed(slot id: WorkerID, pid: Int32, reason: String) {
        eventLoop.preconditionInEventLoop()
        guard let slot = slots[id], slot.process?.pid == pid else { return }
        logger.error("worker channel failed", metadata: metadata(slot, pid: pid, ["error": "\(reason)"]))
        let stopReason = slot.process?.stopReason ?? .violation
        slot.process?.stopReason = stopReason
        slot.phase = .reaping
        _ = Glibc.kill(pid, SIGKILL)
        reap(slot: id, pid: pid, delay: Self.reapPollRange.first, deadline: .now() + Self.reapPollLimit)
    }

    private func scheduleRespawn(_ slot: WorkerSlot, after delay: TimeAmount) {
        let id = slot.id
        slot.respawnTask = eventLoop.scheduleTask(in: delay) {
            guard let slot = self.slots[id], slot.phase == .waiting else { return }
            slot.restarts += 1
            self.spawn(slot)
        }
    }

    // MARK: Jobs and departures

    private func finishJob(_ slot: WorkerSlot, pid: Int32, jobID: UInt64, outcome: JobOutcome) {
        guard slot.phase == .busy, slot.jobIDs.first == jobID else {
            violation(slot, "an answer to job \(jobID), which was not the oldest it had to answer")
            return
        }
        slot.jobIDs.removeFirst()
        slot.backoff = Self.crashBackoffRange.first
        if slot.jobIDs.isEmpty {
            slot.phase = .idle
        }
        // Reported with the other answers of this read, when it completes.
        slot.answersRead.append(JobAnswer(job: jobID, outcome: outcome))
    }

    /// Reports the answers read from `slot` so far in one call: before anything else is reported of the slot
    /// or done to it, so the delegate hears of them in order.
    private func reportAnswers(_ slot: WorkerSlot) {
        guard !slot.answersRead.isEmpty else { return }
        let answers = slot.answersRead
        slot.answersRead = []
        // The answers are reported before a leaving slot is closed: closing it can reap its process at once
        // (it exits at EOF), and an exit reported first would requeue the jobs it has just answered.
        delegate?.jobsFinished(slot.id, answers: answers)
        if slot.retiring, slot.phase == .idle, slots[slot.id] === slot {
            retire(slot)
        }
    }

    /// Takes `slot` out of the pool: at once if it has no process or an idle one, else when its jobs end.
    private func retire(_ slot: WorkerSlot) {
        slot.retiring = true
        switch slot.phase {
        case .waiting:
            slot.respawnTask?.cancel()
            slot.respawnTask = nil
            slots[slot.id] = nil
        case .idle:
            // Closing the socket ends the worker cleanly: it exits 0 at EOF.
            slot.process?.stopReason = .retire
            slot.phase = .stopping
            slot.process?.channel?.close(promise: nil)
        case .starting:
            slot.process?.stopReason = .retire
            slot.phase = .stopping
            if let pid = slot.process?.pid { _ = Glibc.kill(pid, SIGKILL) }
        case .busy, .stopping, .reaping:
            break
        }
    }

    /// The worker broke the protocol: it is killed and, since the pool did not ask for the death
    /// in the scheduler's name, respawned with backoff.
    private func violation(_ slot: WorkerSlot, _ what: String) {
        reportAnswers(slot)
        guard let process = slot.process else { return }
        logger.error(
            "worker broke the protocol; killing it",
            metadata: metadata(slot, pid: process.pid, ["error": "\(what)"])
        )
        slot.process?.stopReason = process.stopReason ?? .violation
        if slot.phase != .reaping { slot.phase = .stopping }
        _ = Glibc.kill(process.pid, SIGKILL)
        process.channel?.close(promise: nil)
    }

    // MARK: Reaping

    private func reap(slot id: WorkerID, pid: Int32, delay: TimeAmount, deadline: NIODeadline) {
        var status: CInt = 0
        let result = waitpid(pid, &status, WNOHANG)
        if result == pid {
            reaped(slot: id, pid: pid, exit: WorkerExit(waitStatus: status))
            return
        }
        if result < 0 {
            if errno == EINTR {
                reap(slot: id, pid: pid, delay: delay, deadline: deadline)
                return
            }
            // ECHILD: someone else reaped it (SIGCHLD ignored, or a stray waitpid(-1)).
            logger.error(
                "worker was reaped elsewhere; its exit status is lost",
                metadata: ["worker.slot": "\(id)", "worker.pid": "\(pid)", "error": "\(errnoDescription(errno))"]
            )
            reaped(slot: id, pid: pid, exit: .exited(code: -1))
            return
        }
        guard NIODeadline.now() < deadline else {
            logger.warning(
                "worker closed its channel but did not exit; killing it",
                metadata: ["worker.slot": "\(id)", "worker.pid": "\(pid)"]
            )
            _ = Glibc.kill(pid, SIGKILL)
            NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) { () -> CInt in
                var status: CInt = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                return status
            }.whenComplete { outcome in
                let exit: WorkerExit
                switch outcome {
                case .success(let status): exit = WorkerExit(waitStatus: status)
                case .failure: exit = .signaled(signal: SIGKILL)
                }
                self.reaped(slot: id, pid: pid, exit: exit)
            }
            return
        }
        let next = min(delay * 2, Self.reapPollRange.last)
        eventLoop.scheduleTask(in: delay) {
            self.reap(slot: id, pid: pid, delay: next, deadline: deadline)
        }
    }

    private func reaped(slot id: WorkerID, pid: Int32, exit: WorkerExit) {
        eventLoop.preconditionInEventLoop()
        guard let slot = slots[id], let process = slot.process, process.pid == pid else { return }
        reportAnswers(slot)
        guard slots[id] === slot, slot.process?.pid == pid else { return }
        slot.process = nil
        slot.jobIDs = []
        slot.pendingFrames = nil
        slot.phase = .waiting
        let expected = process.stopReason != nil && process.stopReason != .violation
        let fields = metadata(slot, pid: pid, ["worker.exit": "\(exit)"])
        if expected {
            logger.info("worker exited", metadata: fields)
        } else {
            logger.warning("worker died", metadata: fields)
        }
        delegate?.workerExited(id, pid: pid, exit: exit)

        // The delegate may have resized or shut the pool down meanwhile.
        guard let slot = slots[id], slot.phase == .waiting, slot.process == nil else { return }
        if shutdownPromise != nil || slot.retiring {
            slots[id] = nil
            completeShutdownIfDone()
        } else if process.stopReason == .requestedKill
            || (process.saidHello && monotonicNanos() &- process.spawnedAtNanos >= UInt64(slot.backoff.nanoseconds))
        {
            slot.restarts += 1
            spawn(slot)
        } else {
            scheduleRespawn(slot, after: slot.takeBackoff(limit: Self.crashBackoffRange.last))
        }
    }

    private func completeShutdownIfDone() {
        guard let promise = shutdownPromise, slots.isEmpty else { return }
        logger.info("worker pool stopped")
        promise.succeed()
    }

    // MARK: Helpers

    private func misuse(_ what: String) {
        logger.error("worker pool misuse: \(what)")
        assertionFailure("worker pool misuse: \(what)")
    }

    private func metadata(_ slot: WorkerSlot, pid: Int32?, _ extra: Logger.Metadata = [:]) -> Logger.Metadata {
        var fields: Logger.Metadata = ["worker.slot": "\(slot.id)"]
        if let pid { fields["worker.pid"] = "\(pid)" }
        return fields.merging(extra) { $1 }
    }

    /// Children must stay waitable: with SIGCHLD ignored (inheritable across exec) the kernel reaps
    /// them itself, exit statuses are lost, and a pid could be reused before the pool kills it.
    private static func keepChildrenReapable(logger: Logger) {
        var current = sigaction()
        guard sigaction(SIGCHLD, nil, &current) == 0 else { return }
        let ignored = current.__sigaction_handler.sa_handler.map { unsafeBitCast($0, to: Int.self) == 1 } ?? false
        guard ignored || current.sa_flags & CInt(SA_NOCLDWAIT) != 0 else { return }
        logger.warning("SIGCHLD was ignored; restoring its default so that workers can be reaped")
        var restored = sigaction()
        restored.__sigaction_handler.sa_handler = SIG_DFL
        sigemptyset(&restored.sa_mask)
        _ = sigaction(SIGCHLD, &restored, nil)
    }
}

/// One place in the pool; the process behind it changes, the id does not.
final class WorkerSlot {
    enum Phase: Equatable, CustomStringConvertible {
        /// A process was spawned; it has not said hello.
        case starting
        case idle
        case busy
        /// The process was killed or told to leave; its channel is still open.
        case stopping
        /// The channel closed; the exit status is awaited.
        case reaping
        /// No process: the respawn is scheduled, or the slot is about to be removed.
        case waiting

        var description: String {
            switch self {
            case .starting: return "starting"
            case .idle: return "idle"
            case .busy: return "busy"
            case .stopping: return "stopping"
            case .reaping: return "being reaped"
            case .waiting: return "waiting to respawn"
            }
        }

        var publicState: WorkerState {
            switch self {
            case .starting: return .starting
            case .idle: return .idle
            case .busy: return .busy
            case .stopping, .reaping, .waiting: return .restarting
            }
        }

        var hasLiveProcess: Bool {
            publicState != .restarting
        }
    }

    let id: WorkerID
    var phase: Phase = .waiting
    var process: WorkerProcess?
    /// Jobs sent and not answered, oldest first (the process answers in order).
    var jobIDs: [UInt64] = []
    /// Answers read in the current read, reported together when it completes (at most `maxJobsPerSlot`).
    var answersRead: [JobAnswer] = []
    /// Compute frames to write at the end of this loop turn.
    var pendingFrames: ByteBuffer?
    var restarts = 0
    var bytesReceived: UInt64 = 0
    /// The delay before the next respawn after an unasked death.
    var backoff: TimeAmount
    var retiring = false
    var respawnTask: Scheduled<Void>?

    init(id: WorkerID, backoff: TimeAmount) {
        self.id = id
        self.backoff = backoff
    }

    /// The current backoff; the next one is twice as long, up to `limit`.
    func takeBackoff(limit: TimeAmount) -> TimeAmount {
        let delay = backoff
        backoff = min(backoff * 2, limit)
        return delay
    }
}

/// One worker process of a slot.
struct WorkerProcess {
    enum StopReason: Equatable {
        /// `kill(_:)`: respawn at once.
        case requestedKill
        /// The pool killed it for breaking the protocol: respawn with backoff.
        case violation
        /// `resize(to:)` took the slot away.
        case retire
        case shutdown
    }

    let pid: Int32
    let spawnedAtNanos: UInt64
    var channel: (any Channel)?
    var stopReason: StopReason?
    /// It said hello: it was up and running, so an unasked death is no crash at start.
    var saidHello = false

    init(pid: Int32, spawnedAtNanos: UInt64) {
        self.pid = pid
        self.spawnedAtNanos = spawnedAtNanos
    }
}

extension WorkerExit {
    /// Decodes a waitpid status (WIFEXITED / WTERMSIG; stopped states are not asked for).
    init(waitStatus status: CInt) {
        let signal = status & 0x7f
        if signal == 0 {
            self = .exited(code: (status >> 8) & 0xff)
        } else {
            self = .signaled(signal: signal)
        }
    }
}
