import FibCore
import FibMath
import NIOCore

// The wire protocol between the daemon and `fibd worker`, over a SOCK_STREAM socketpair.
//
// Every frame: UInt32 big-endian length of what follows, a UInt8 kind, then the payload
// (integers big-endian). Parent -> worker: `compute`. Worker -> parent: `hello` (once, first),
// then one `result` or `failure` per `compute`, in the order of the `compute` frames; the parent may send
// several `compute` frames before the first answer. These functions are pure and Foundation-free
// so that the worker, which must start in a millisecond or two, can use them too.

/// The kind byte of a frame.
public enum WorkerFrameKind: UInt8, Sendable, CaseIterable {
    /// Parent -> worker: job id UInt64, algorithm UInt8, n UInt64.
    case compute = 1
    /// Worker -> parent, sent once at start: pid UInt32.
    case hello = 2
    /// Worker -> parent: job id UInt64, compute nanos UInt64, encode nanos UInt64, then the decimal digits.
    case result = 3
    /// Worker -> parent: job id UInt64, then a UTF-8 message.
    case failure = 4
}

/// Which peer reads a frame; each side accepts only the kinds the other one sends.
public enum WorkerFrameDirection: Sendable {
    case toWorker
    case toParent

    func accepts(_ kind: WorkerFrameKind) -> Bool {
        switch self {
        case .toWorker: return kind == .compute
        case .toParent: return kind != .compute
        }
    }
}

/// A frame the parent sends to a worker.
public enum WorkerCommand: Sendable, Hashable {
    case compute(Job)
}

/// A frame a worker sends to the parent.
public enum WorkerReport: Sendable {
    case hello(pid: UInt32)
    case result(jobID: UInt64, JobResult)
    case failure(jobID: UInt64, message: String)
}

/// Why bytes from a peer are not a valid frame. Any of these ends the connection.
public enum WorkerProtocolError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The length prefix is 0: a frame has at least its kind byte.
    case emptyFrame
    /// The length prefix is over ``WorkerProtocol/maxFrameLength``.
    case frameTooLong(length: UInt64)
    case unknownKind(UInt8)
    /// A known kind that this side never receives (a worker sending `compute`, ...).
    case unexpectedKind(WorkerFrameKind)
    /// The payload length does not fit the kind (a `hello` of 7 bytes, a `failure` message of 1 MiB, ...).
    case badPayloadLength(kind: WorkerFrameKind, length: Int)
    case unknownAlgorithm(UInt8)
    case invalidUTF8

    public var description: String {
        switch self {
        case .emptyFrame: return "worker protocol: empty frame"
        case .frameTooLong(let length):
            return "worker protocol: frame of \(length) bytes exceeds the limit of \(WorkerProtocol.maxFrameLength)"
        case .unknownKind(let kind): return "worker protocol: unknown frame kind \(kind)"
        case .unexpectedKind(let kind): return "worker protocol: unexpected \(kind) frame"
        case .badPayloadLength(let kind, let length):
            return "worker protocol: \(kind) frame with a payload of \(length) bytes"
        case .unknownAlgorithm(let code): return "worker protocol: unknown algorithm code \(code)"
        case .invalidUTF8: return "worker protocol: failure message is not UTF-8"
        }
    }
}

public enum WorkerProtocol {
    /// Bytes before the payload: the UInt32 length and the kind byte.
    public static let headerLength = 5
    /// The largest value of the length prefix (kind + payload) either side accepts: 1 GiB, about
    /// F(5·10⁹) in decimal. It bounds what a broken or hostile peer can make the daemon buffer.
    public static let maxFrameLength = 1 << 30
    /// The longest failure message a worker may send.
    public static let maxFailureMessageLength = 64 * 1024

    static let computePayloadLength = 17
    static let helloPayloadLength = 4
    static let resultFixedLength = 24
    static let failureFixedLength = 8

    /// The largest number of digits a result frame can carry.
    public static let maxResultDigits = maxFrameLength - 1 - resultFixedLength

    /// Checks a frame header before anything is allocated for its payload.
    ///
    /// - Parameters:
    ///   - length: the length prefix (kind byte + payload).
    ///   - kindByte: the kind byte.
    ///   - direction: who reads the frame.
    /// - Returns: the kind and the payload length.
    public static func validateHeader(
        length: UInt32,
        kindByte: UInt8,
        direction: WorkerFrameDirection
    ) throws(WorkerProtocolError) -> (kind: WorkerFrameKind, payloadLength: Int) {
        guard length > 0 else { throw .emptyFrame }
        guard length <= maxFrameLength else { throw .frameTooLong(length: UInt64(length)) }
        guard let kind = WorkerFrameKind(rawValue: kindByte) else { throw .unknownKind(kindByte) }
        guard direction.accepts(kind) else { throw .unexpectedKind(kind) }
        let payloadLength = Int(length) - 1
        let valid: Bool
        switch kind {
        case .compute: valid = payloadLength == computePayloadLength
        case .hello: valid = payloadLength == helloPayloadLength
        case .result: valid = payloadLength >= resultFixedLength
        case .failure:
            valid =
                payloadLength >= failureFixedLength
                && payloadLength - failureFixedLength <= maxFailureMessageLength
        }
        guard valid else { throw .badPayloadLength(kind: kind, length: payloadLength) }
        return (kind, payloadLength)
    }

    /// Decodes the payload of a frame whose header ``validateHeader(length:kindByte:direction:)`` accepted
    /// with direction `.toWorker`.
    public static func decodeCommand(
        kind: WorkerFrameKind,
        payload: UnsafeRawBufferPointer
    ) throws(WorkerProtocolError) -> WorkerCommand {
        guard kind == .compute else { throw .unexpectedKind(kind) }
        guard payload.count == computePayloadLength else {
            throw .badPayloadLength(kind: kind, length: payload.count)
        }
        let jobID = payload.readUInt64(at: 0)
        let code = payload[8]
        guard let algorithm = Algorithm(wireCode: code) else { throw .unknownAlgorithm(code) }
        let n = payload.readUInt64(at: 9)
        return .compute(Job(id: jobID, n: n, algorithm: algorithm))
    }

    /// Decodes the payload of a frame whose header ``validateHeader(length:kindByte:direction:)`` accepted
    /// with direction `.toParent`.
    public static func decodeReport(
        kind: WorkerFrameKind,
        payload: UnsafeRawBufferPointer
    ) throws(WorkerProtocolError) -> WorkerReport {
        switch kind {
        case .compute:
            throw .unexpectedKind(kind)
        case .hello:
            guard payload.count == helloPayloadLength else {
                throw .badPayloadLength(kind: kind, length: payload.count)
            }
            return .hello(pid: payload.readUInt32(at: 0))
        case .result:
            guard payload.count >= resultFixedLength else {
                throw .badPayloadLength(kind: kind, length: payload.count)
            }
            let result = JobResult(
                digits: Array(payload[resultFixedLength...]),
                computeNanos: payload.readUInt64(at: 8),
                encodeNanos: payload.readUInt64(at: 16)
            )
            return .result(jobID: payload.readUInt64(at: 0), result)
        case .failure:
            guard payload.count >= failureFixedLength else {
                throw .badPayloadLength(kind: kind, length: payload.count)
            }
            let messageBytes = UnsafeRawBufferPointer(rebasing: payload[failureFixedLength...])
            guard let message = String(validating: messageBytes, as: UTF8.self) else { throw .invalidUTF8 }
            return .failure(jobID: payload.readUInt64(at: 0), message: message)
        }
    }

    /// Decodes the first frame in `bytes`, if it is complete.
    ///
    /// - Returns: the frame and the number of bytes it took, or nil if `bytes` holds only part of it.
    public static func decodeReport(
        from bytes: UnsafeRawBufferPointer
    ) throws(WorkerProtocolError) -> (report: WorkerReport, frameLength: Int)? {
        guard let (kind, payload) = try splitFrame(bytes, direction: .toParent) else { return nil }
        let report = try decodeReport(kind: kind, payload: payload)
        return (report, headerLength + payload.count)
    }

    /// Decodes the first frame in `bytes`, if it is complete.
    ///
    /// - Returns: the frame and the number of bytes it took, or nil if `bytes` holds only part of it.
    public static func decodeCommand(
        from bytes: UnsafeRawBufferPointer
    ) throws(WorkerProtocolError) -> (command: WorkerCommand, frameLength: Int)? {
        guard let (kind, payload) = try splitFrame(bytes, direction: .toWorker) else { return nil }
        let command = try decodeCommand(kind: kind, payload: payload)
        return (command, headerLength + payload.count)
    }

    private static func splitFrame(
        _ bytes: UnsafeRawBufferPointer,
        direction: WorkerFrameDirection
    ) throws(WorkerProtocolError) -> (WorkerFrameKind, UnsafeRawBufferPointer)? {
        guard bytes.count >= headerLength else { return nil }
        let (kind, payloadLength) = try validateHeader(
            length: bytes.readUInt32(at: 0),
            kindByte: bytes[4],
            direction: direction
        )
        guard bytes.count - headerLength >= payloadLength else { return nil }
        let payload = UnsafeRawBufferPointer(rebasing: bytes[headerLength..<headerLength + payloadLength])
        return (kind, payload)
    }

    /// The header and fixed fields of a result frame carrying `digitCount` digits; the digits follow
    /// on the wire. Split out so that the worker can send the digits without copying them.
    public static func resultFramePrefix(
        jobID: UInt64,
        computeNanos: UInt64,
        encodeNanos: UInt64,
        digitCount: Int
    ) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(headerLength + resultFixedLength)
        bytes.appendBigEndian(UInt32(truncatingIfNeeded: 1 + resultFixedLength + digitCount))
        bytes.append(WorkerFrameKind.result.rawValue)
        bytes.appendBigEndian(jobID)
        bytes.appendBigEndian(computeNanos)
        bytes.appendBigEndian(encodeNanos)
        return bytes
    }
}

extension WorkerCommand {
    /// The frame on the wire.
    public func encoded() -> [UInt8] {
        switch self {
        case .compute(let job):
            var bytes: [UInt8] = []
            bytes.reserveCapacity(WorkerProtocol.headerLength + WorkerProtocol.computePayloadLength)
            bytes.appendBigEndian(UInt32(1 + WorkerProtocol.computePayloadLength))
            bytes.append(WorkerFrameKind.compute.rawValue)
            bytes.appendBigEndian(job.id)
            bytes.append(job.algorithm.wireCode)
            bytes.appendBigEndian(job.n)
            return bytes
        }
    }
}

extension WorkerCommand {
    /// Appends the frame to `buffer`: the same bytes as ``encoded()``, without an array in between.
    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .compute(let job):
            buffer.writeInteger(UInt32(1 + WorkerProtocol.computePayloadLength))
            buffer.writeInteger(WorkerFrameKind.compute.rawValue)
            buffer.writeInteger(job.id)
            buffer.writeInteger(job.algorithm.wireCode)
            buffer.writeInteger(job.n)
        }
    }
}

extension WorkerReport {
    /// The frame on the wire. Callers keep digits within ``WorkerProtocol/maxResultDigits`` and
    /// messages within ``WorkerProtocol/maxFailureMessageLength`` (``failureMessage(_:)`` truncates).
    public func encoded() -> [UInt8] {
        switch self {
        case .hello(let pid):
            var bytes: [UInt8] = []
            bytes.appendBigEndian(UInt32(1 + WorkerProtocol.helloPayloadLength))
            bytes.append(WorkerFrameKind.hello.rawValue)
            bytes.appendBigEndian(pid)
            return bytes
        case .result(let jobID, let result):
            var bytes = WorkerProtocol.resultFramePrefix(
                jobID: jobID,
                computeNanos: result.computeNanos,
                encodeNanos: result.encodeNanos,
                digitCount: result.digits.count
            )
            bytes.append(contentsOf: result.digits)
            return bytes
        case .failure(let jobID, let message):
            let text = Array(message.utf8)
            var bytes: [UInt8] = []
            bytes.appendBigEndian(UInt32(1 + WorkerProtocol.failureFixedLength + text.count))
            bytes.append(WorkerFrameKind.failure.rawValue)
            bytes.appendBigEndian(jobID)
            bytes.append(contentsOf: text)
            return bytes
        }
    }

    /// How many bytes the frame takes on the wire.
    public var encodedLength: Int {
        let payload: Int
        switch self {
        case .hello: payload = WorkerProtocol.helloPayloadLength
        case .result(_, let result): payload = WorkerProtocol.resultFixedLength + result.digits.count
        case .failure(_, let message): payload = WorkerProtocol.failureFixedLength + message.utf8.count
        }
        return WorkerProtocol.headerLength + payload
    }

    /// `message` cut (on a character boundary) to fit a failure frame.
    public static func failureMessage(_ message: String) -> String {
        guard message.utf8.count > WorkerProtocol.maxFailureMessageLength else { return message }
        var cut = ""
        for character in message {
            guard cut.utf8.count + character.utf8.count <= WorkerProtocol.maxFailureMessageLength else { break }
            cut.append(character)
        }
        return cut
    }
}

extension Algorithm {
    /// The algorithm's byte in a compute frame (0 is never used, so that zeroed bytes do not decode).
    var wireCode: UInt8 {
        switch self {
        case .fast: return 1
        case .recursive: return 2
        }
    }

    init?(wireCode: UInt8) {
        switch wireCode {
        case 1: self = .fast
        case 2: self = .recursive
        default: return nil
        }
    }
}

extension Array where Element == UInt8 {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}

extension UnsafeRawBufferPointer {
    func readUInt64(at offset: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    func readUInt32(at offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
}
