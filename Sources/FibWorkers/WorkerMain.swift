import FibCore
import FibMath
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// The `fibd worker` process: reads jobs from fd 3, answers with results.
///
/// Started by ``WorkerPool`` with posix_spawn; never by hand. It stays small and fast to start:
/// no NIO, no Foundation, blocking reads and writes, one job at a time.
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
        var header = [UInt8](repeating: 0, count: WorkerProtocol.headerLength)
        var payload = [UInt8](repeating: 0, count: WorkerProtocol.computePayloadLength)
        while true {
            let job = readJob(from: channel, header: &header, payload: &payload, logger: logger)
            let frame = answer(job)
            let status = channel.writeAll(frame)
            guard status == 0 else {
                leave(.ioError, because: "fibd worker: writing a result: \(errnoDescription(status))", logger: logger)
            }
        }
    }

    /// Reads the next compute frame; exits at EOF or on anything else.
    private static func readJob(
        from channel: BlockingChannel,
        header: inout [UInt8],
        payload: inout [UInt8],
        logger: Logger
    ) -> Job {
        switch header.withUnsafeMutableBytes({ channel.readExactly(into: $0) }) {
        case .complete: break
        case .endOfInput: exit(ExitCode.endOfInput.rawValue)
        case .truncated:
            leave(.protocolError, because: "fibd worker: channel closed inside a frame header", logger: logger)
        case .failed(let code):
            leave(.ioError, because: "fibd worker: reading fd 3: \(errnoDescription(code))", logger: logger)
        }
        do {
            let length = header.withUnsafeBytes { $0.readUInt32(at: 0) }
            let (kind, payloadLength) = try WorkerProtocol.validateHeader(
                length: length,
                kindByte: header[4],
                direction: .toWorker
            )
            // validateHeader guarantees a compute frame, whose payload has exactly this length.
            guard payloadLength == payload.count else {
                throw WorkerProtocolError.badPayloadLength(kind: kind, length: payloadLength)
            }
            switch payload.withUnsafeMutableBytes({ channel.readExactly(into: $0) }) {
            case .complete: break
            case .endOfInput, .truncated:
                leave(.protocolError, because: "fibd worker: channel closed inside a frame", logger: logger)
            case .failed(let code):
                leave(.ioError, because: "fibd worker: reading fd 3: \(errnoDescription(code))", logger: logger)
            }
            let command = try payload.withUnsafeBytes { bytes throws(WorkerProtocolError) in
                try WorkerProtocol.decodeCommand(kind: kind, payload: bytes)
            }
            switch command {
            case .compute(let job): return job
            }
        } catch {
            leave(.protocolError, because: "fibd worker: \(error)", logger: logger)
        }
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
