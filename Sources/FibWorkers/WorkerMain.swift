import FibCore
import FibMath
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The `fibd worker` process: reads jobs from fd 3, answers with results.
///
/// Started by ``WorkerPool`` with posix_spawn; never by hand. It stays small and fast to start:
/// no NIO, no Foundation, blocking reads and writes, one job at a time. The pool may send several
/// (trivial) jobs at once: the worker reads what has arrived, computes the jobs in order, and writes
/// their answers together once no further complete frame is buffered, so that one wake-up each way
/// serves them all.
public enum WorkerMain {
    /// The descriptor of the worker's end of the socketpair.
    public static let channelDescriptor: CInt = 3
    /// The environment variable in which the pool passes its pid, so that a worker whose parent
    /// died before the death signal was armed notices and leaves.
    public static let parentPIDVariable = "FIBD_PARENT_PID"

    /// How `fibd worker` exits (sysexits.h values, so that the pool's log says what happened).
    public enum ExitCode: Int32, Sendable {
        /// The parent closed the channel between jobs.
        case endOfInput = 0
        /// The peer sent something that is not a valid frame.
        case protocolError = 65
        /// The parent was already gone when the worker started.
        case orphaned = 69
        /// Reading or writing fd 3 failed (no fd 3, or the parent vanished mid-frame).
        case ioError = 74
    }

    /// Runs the worker until its channel closes. `logger` is set up by the caller (fibd's
    /// main, with the daemon's log destination and the identifier `fibd-worker`); the worker
    /// logs only why it leaves when that is not the daemon closing its channel.
    public static func run(logger: Logger = Logger(label: "fibd-worker")) -> Never {
        let expectedParent = parentPIDFromEnvironment() ?? getppid()
        // If the parent (the spawning thread) dies, so does the worker: no orphan keeps computing.
        _ = LinuxCalls.setParentDeathSignal(SIGKILL)
        if getppid() != expectedParent {
            exit(ExitCode.orphaned.rawValue)
        }
        let channel = BlockingChannel(descriptor: channelDescriptor)
        let hello = WorkerReport.hello(pid: UInt32(truncatingIfNeeded: getpid())).encoded()
        guard channel.writeAll([hello]) == 0 else {
            leave(
                .ioError, because: "fibd worker is internal: the daemon starts it with its channel on fd 3",
                logger: logger)
        }
        var input = InputBuffer(capacity: inputCapacity)
        var answers = AnswerBatch()
        while true {
            if let job = nextBufferedJob(in: &input, logger: logger) {
                let status = answers.add(answer(job), writingTo: channel)
                guard status == 0 else { failedWrite(status, logger: logger) }
                continue
            }
            // Nothing more to compute without waiting: what is answered goes out before the worker sleeps.
            let status = answers.flush(to: channel)
            guard status == 0 else { failedWrite(status, logger: logger) }
            input.compact()
            switch input.withFreeSpace({ channel.readSome(into: $0) }) {
            case .read(let count):
                input.end += count
            case .endOfInput:
                if input.isEmpty { exit(ExitCode.endOfInput.rawValue) }
                leave(.protocolError, because: "fibd worker: channel closed inside a frame", logger: logger)
            case .failed(let code):
                leave(.ioError, because: "fibd worker: reading fd 3: \(errnoDescription(code))", logger: logger)
            }
        }
    }

    /// Bytes read from the parent at once: room for well over a hundred compute frames of 22 bytes.
    static let inputCapacity = 4096

    /// The next compute frame already read, if one is complete; exits on anything else.
    private static func nextBufferedJob(in input: inout InputBuffer, logger: Logger) -> Job? {
        let decoded = input.withBytes { bytes in
            Result { () throws(WorkerProtocolError) in try WorkerProtocol.decodeCommand(from: bytes) }
        }
        switch decoded {
        case .success(nil):
            return nil
        case .success(let (command, length)?):
            input.start += length
            switch command {
            case .compute(let job): return job
            }
        case .failure(let error):
            leave(.protocolError, because: "fibd worker: \(error)", logger: logger)
        }
    }

    private static func failedWrite(_ status: CInt, logger: Logger) -> Never {
        leave(.ioError, because: "fibd worker: writing a result: \(errnoDescription(status))", logger: logger)
    }

    /// Computes `job` and returns the frame to send, in parts, so the digits are never copied.
    static func answer(_ job: Job) -> [[UInt8]] {
        let start = monotonicNanos()
        let digits: [UInt8]
        let computed: UInt64
        switch job.algorithm {
        case .recursive:
            guard job.n <= Fibonacci.maxRecursiveN else {
                let message = FibonacciError.recursiveOutOfRange(n: job.n).description
                return [WorkerReport.failure(jobID: job.id, message: message).encoded()]
            }
            let value = Fibonacci.recursive(job.n)
            computed = monotonicNanos()
            digits = Array(String(value).utf8)
        case .fast:
            // Refused before the work: GMP aborts the process past its size limit.
            let expectedDigits = Fibonacci.approximateDigitCount(job.n)
            guard job.n <= Fibonacci.maxFastN, expectedDigits <= WorkerProtocol.maxResultDigits else {
                let message =
                    "F(\(job.n)) has about \(expectedDigits) digits, more than a worker can send"
                    + " (\(WorkerProtocol.maxResultDigits))"
                return [WorkerReport.failure(jobID: job.id, message: message).encoded()]
            }
            let value = Fibonacci.fastDoubling(job.n)
            computed = monotonicNanos()
            digits = value.decimalDigits()
        }
        let encoded = monotonicNanos()
        guard digits.count <= WorkerProtocol.maxResultDigits else {
            let message =
                "F(\(job.n)) has \(digits.count) digits, more than a worker can send"
                + " (\(WorkerProtocol.maxResultDigits))"
            return [WorkerReport.failure(jobID: job.id, message: message).encoded()]
        }
        let prefix = WorkerProtocol.resultFramePrefix(
            jobID: job.id,
            computeNanos: computed - start,
            encodeNanos: encoded - computed,
            digitCount: digits.count
        )
        return [prefix, digits]
    }

    private static func parentPIDFromEnvironment() -> pid_t? {
        guard let text = getenv(parentPIDVariable) else { return nil }
        return pid_t(String(cString: text))
    }

    private static func leave(_ code: ExitCode, because message: String, logger: Logger) -> Never {
        logger.error("\(message)", metadata: ["exit_status": "\(code.rawValue)", "worker_pid": "\(getpid())"])
        exit(code.rawValue)
    }
}

/// What the worker has read from the parent and not decoded yet.
struct InputBuffer {
    private var bytes: [UInt8]
    /// The first byte not decoded yet.
    var start = 0
    /// One past the last byte read.
    var end = 0

    init(capacity: Int) {
        bytes = [UInt8](repeating: 0, count: capacity)
    }

    var isEmpty: Bool { start == end }

    func withBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        let (start, end) = (self.start, self.end)
        return bytes.withUnsafeBytes { all in body(UnsafeRawBufferPointer(rebasing: all[start..<end])) }
    }

    /// Moves the bytes not decoded yet to the front, so that the rest of the buffer can be read into.
    mutating func compact() {
        guard start > 0 else { return }
        let count = end - start
        if count > 0 {
            bytes.withUnsafeMutableBytes { all in
                guard let base = all.baseAddress else { return }
                (base).copyMemory(from: base + start, byteCount: count)
            }
        }
        start = 0
        end = count
    }

    mutating func withFreeSpace<R>(_ body: (UnsafeMutableRawBufferPointer) -> R) -> R {
        let end = self.end
        return bytes.withUnsafeMutableBytes { all in body(UnsafeMutableRawBufferPointer(rebasing: all[end...])) }
    }
}

/// Answers computed and not written yet. Small ones are copied together so that they go out in one write;
/// a large one goes out at once, with what precedes it, without copying its digits.
struct AnswerBatch {
    private var pending: [UInt8] = []
    /// Answers up to this size are copied into the batch.
    static let copiedAnswerLimit = 64 * 1024
    /// The batch is written once it holds this much, even if more frames are buffered.
    static let flushThreshold = 256 * 1024

    /// Adds one answer (a frame in parts); writes if the batch is full or the answer large.
    /// - Returns: 0, or the errno value of a failed write.
    mutating func add(_ parts: [[UInt8]], writingTo channel: BlockingChannel) -> CInt {
        let size = parts.reduce(0) { $0 + $1.count }
        if size > Self.copiedAnswerLimit {
            let status = channel.writeAll([pending] + parts)
            pending.removeAll(keepingCapacity: true)
            return status
        }
        for part in parts { pending.append(contentsOf: part) }
        return pending.count >= Self.flushThreshold ? flush(to: channel) : 0
    }

    /// Writes what is pending. - Returns: 0, or the errno value of a failed write.
    mutating func flush(to channel: BlockingChannel) -> CInt {
        guard !pending.isEmpty else { return 0 }
        let status = channel.writeAll([pending])
        pending.removeAll(keepingCapacity: true)
        return status
    }
}
