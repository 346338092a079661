import NIOCore

/// The parent side of the worker protocol: turns the bytes a worker sends into ``WorkerReport``s.
///
/// The header is validated before the payload is awaited, so a peer announcing an absurd frame is
/// refused at once instead of being buffered up to ``WorkerProtocol/maxFrameLength``.
public struct WorkerReportDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = WorkerReport

    public init() {}

    public mutating func decode(buffer: inout ByteBuffer) throws -> WorkerReport? {
        let start = buffer.readerIndex
        guard let length = buffer.getInteger(at: start, as: UInt32.self),
            let kindByte = buffer.getInteger(at: start + 4, as: UInt8.self)
        else { return nil }
        let (kind, payloadLength) = try WorkerProtocol.validateHeader(
            length: length,
            kindByte: kindByte,
            direction: .toParent
        )
        guard buffer.readableBytes - WorkerProtocol.headerLength >= payloadLength else { return nil }
        buffer.moveReaderIndex(forwardBy: WorkerProtocol.headerLength)
        guard let payload = buffer.readSlice(length: payloadLength) else { return nil }
        return try payload.withUnsafeReadableBytes { try WorkerProtocol.decodeReport(kind: kind, payload: $0) }
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> WorkerReport? {
        // A partial frame at EOF is dropped: the worker is gone and the pool reaps it.
        try decode(buffer: &buffer)
    }
}

extension WorkerReportDecoder {
    /// The most bytes the decoder's handler may hold while a frame is incomplete.
    public static let maximumBufferSize = WorkerProtocol.headerLength + WorkerProtocol.maxFrameLength
}
