import FibCore
import FibMath
import NIOCore
import Testing

@testable import FibWorkers

@Suite("Worker wire protocol")
struct WorkerProtocolTests {
    private func decodeReport(_ bytes: [UInt8]) throws -> (report: WorkerReport, frameLength: Int)? {
        try bytes.withUnsafeBytes { try WorkerProtocol.decodeReport(from: $0) }
    }

    private func decodeCommand(_ bytes: [UInt8]) throws -> (command: WorkerCommand, frameLength: Int)? {
        try bytes.withUnsafeBytes { try WorkerProtocol.decodeCommand(from: $0) }
    }

    private func frame(length: UInt32, kind: UInt8, payload: [UInt8] = []) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendBigEndian(length)
        bytes.append(kind)
        return bytes + payload
    }

    @Test(arguments: [
        Job(id: 0, n: 0, algorithm: .fast),
        Job(id: 42, n: 93, algorithm: .recursive),
        Job(id: .max, n: .max, algorithm: .fast),
    ])
    func computeRoundTrips(job: Job) throws {
        let bytes = WorkerCommand.compute(job).encoded()
        #expect(bytes.count == 5 + 17)
        #expect(Array(bytes.prefix(5)) == [0, 0, 0, 18, WorkerFrameKind.compute.rawValue])
        let decoded = try #require(try decodeCommand(bytes))
        #expect(decoded.command == .compute(job))
        #expect(decoded.frameLength == bytes.count)
        var buffer = ByteBufferAllocator().buffer(capacity: 0)
        WorkerCommand.compute(job).encode(into: &buffer)
        #expect(Array(buffer.readableBytesView) == bytes, "the pool's encoding is the same bytes")
    }

    @Test func helloRoundTrips() throws {
        let bytes = WorkerReport.hello(pid: 0x0102_0304).encoded()
        #expect(bytes == [0, 0, 0, 5, 2, 1, 2, 3, 4])
        let decoded = try #require(try decodeReport(bytes))
        guard case .hello(let pid) = decoded.report else {
            Issue.record("decoded \(decoded.report)")
            return
        }
        #expect(pid == 0x0102_0304)
        #expect(decoded.frameLength == 9)
        #expect(decoded.report.encodedLength == 9)
    }

    @Test(arguments: [[UInt8](), Array("0".utf8), Array("354224848179261915075".utf8)])
    func resultRoundTrips(digits: [UInt8]) throws {
        let report = WorkerReport.result(
            jobID: 7,
            JobResult(digits: digits, computeNanos: 123_456_789, encodeNanos: .max)
        )
        let bytes = report.encoded()
        #expect(bytes.count == 5 + 24 + digits.count)
        #expect(report.encodedLength == bytes.count)
        let decoded = try #require(try decodeReport(bytes))
        guard case .result(let jobID, let result) = decoded.report else {
            Issue.record("decoded \(decoded.report)")
            return
        }
        #expect(jobID == 7)
        #expect(result.digits == digits)
        #expect(result.computeNanos == 123_456_789)
        #expect(result.encodeNanos == .max)
    }

    @Test func failureRoundTripsUTF8() throws {
        let message = "recursive handles n <= 93 — not 94 ✗"
        let bytes = WorkerReport.failure(jobID: 9, message: message).encoded()
        let decoded = try #require(try decodeReport(bytes))
        guard case .failure(let jobID, let text) = decoded.report else {
            Issue.record("decoded \(decoded.report)")
            return
        }
        #expect(jobID == 9)
        #expect(text == message)
        #expect(decoded.report.encodedLength == bytes.count)
    }

    @Test func longFailureMessagesAreCutToFit() throws {
        let long = String(repeating: "é", count: WorkerProtocol.maxFailureMessageLength)
        let cut = WorkerReport.failureMessage(long)
        #expect(cut.utf8.count <= WorkerProtocol.maxFailureMessageLength)
        #expect(cut.utf8.count > WorkerProtocol.maxFailureMessageLength - 2)
        #expect(try decodeReport(WorkerReport.failure(jobID: 1, message: cut).encoded()) != nil)
    }

    @Test func partialFramesWaitForMoreBytes() throws {
        let bytes = WorkerReport.result(
            jobID: 1,
            JobResult(digits: Array("832040".utf8), computeNanos: 1, encodeNanos: 2)
        ).encoded()
        for end in 0..<bytes.count {
            #expect(try decodeReport(Array(bytes[..<end])) == nil)
        }
        let command = WorkerCommand.compute(Job(id: 1, n: 30, algorithm: .recursive)).encoded()
        for end in 0..<command.count {
            #expect(try decodeCommand(Array(command[..<end])) == nil)
        }
    }

    @Test func badHeadersAreRefusedBeforeThePayload() {
        let cases: [(UInt32, UInt8, WorkerFrameDirection, WorkerProtocolError)] = [
            (0, 2, .toParent, .emptyFrame),
            (UInt32(WorkerProtocol.maxFrameLength) + 1, 3, .toParent, .frameTooLong(length: 1 << 30 + 1)),
            (.max, 3, .toParent, .frameTooLong(length: UInt64(UInt32.max))),
            (5, 0, .toParent, .unknownKind(0)),
            (5, 9, .toWorker, .unknownKind(9)),
            (18, 1, .toParent, .unexpectedKind(.compute)),
            (5, 2, .toWorker, .unexpectedKind(.hello)),
            (8, 2, .toParent, .badPayloadLength(kind: .hello, length: 7)),
            (17, 1, .toWorker, .badPayloadLength(kind: .compute, length: 16)),
            (1 + 23, 3, .toParent, .badPayloadLength(kind: .result, length: 23)),
            (1 + 7, 4, .toParent, .badPayloadLength(kind: .failure, length: 7)),
            (
                UInt32(1 + 8 + WorkerProtocol.maxFailureMessageLength + 1), 4, .toParent,
                .badPayloadLength(kind: .failure, length: 8 + WorkerProtocol.maxFailureMessageLength + 1)
            ),
        ]
        for (length, kind, direction, expected) in cases {
            #expect(throws: expected) {
                try WorkerProtocol.validateHeader(length: length, kindByte: kind, direction: direction)
            }
        }
        // Only the header is needed to refuse a frame.
        #expect(throws: WorkerProtocolError.frameTooLong(length: UInt64(UInt32.max))) {
            try decodeReport(frame(length: .max, kind: 3))
        }
    }

    @Test func badPayloadsAreRefused() {
        var unknownAlgorithm = WorkerCommand.compute(Job(id: 1, n: 2, algorithm: .fast)).encoded()
        unknownAlgorithm[5 + 8] = 0
        #expect(throws: WorkerProtocolError.unknownAlgorithm(0)) { try decodeCommand(unknownAlgorithm) }
        unknownAlgorithm[5 + 8] = 3
        #expect(throws: WorkerProtocolError.unknownAlgorithm(3)) { try decodeCommand(unknownAlgorithm) }

        let invalidUTF8 = frame(length: 1 + 8 + 2, kind: 4, payload: [0, 0, 0, 0, 0, 0, 0, 1, 0xC3, 0x28])
        #expect(throws: WorkerProtocolError.invalidUTF8) { try decodeReport(invalidUTF8) }
    }

    @Test func nioDecoderSplitsAStreamIntoReports() throws {
        let frames =
            WorkerReport.hello(pid: 4242).encoded()
            + WorkerReport.result(
                jobID: 3,
                JobResult(digits: Array("6765".utf8), computeNanos: 10, encodeNanos: 20)
            ).encoded()
            + WorkerReport.failure(jobID: 4, message: "no").encoded()
        // Fed in chunks of every size, the same three reports come out.
        for chunk in 1...frames.count {
            var decoder = WorkerReportDecoder()
            var buffer = ByteBuffer()
            var reports: [WorkerReport] = []
            var offset = 0
            while offset < frames.count {
                let end = min(offset + chunk, frames.count)
                buffer.writeBytes(frames[offset..<end])
                offset = end
                while let report = try decoder.decode(buffer: &buffer) {
                    reports.append(report)
                }
            }
            #expect(buffer.readableBytes == 0)
            #expect(reports.count == 3)
            guard reports.count == 3,
                case .hello(4242) = reports[0],
                case .result(3, let result) = reports[1],
                case .failure(4, "no") = reports[2]
            else {
                Issue.record("chunk \(chunk): \(reports)")
                continue
            }
            #expect(result.digits == Array("6765".utf8))
        }
    }

    @Test func nioDecoderRefusesAHugeFrameFromItsHeader() {
        var decoder = WorkerReportDecoder()
        var buffer = ByteBuffer(bytes: frame(length: 1 << 31, kind: 3))
        #expect(throws: WorkerProtocolError.frameTooLong(length: 1 << 31)) {
            try decoder.decode(buffer: &buffer)
        }
        var wrongDirection = ByteBuffer(bytes: WorkerCommand.compute(Job(id: 1, n: 1, algorithm: .fast)).encoded())
        #expect(throws: WorkerProtocolError.unexpectedKind(.compute)) {
            try decoder.decode(buffer: &wrongDirection)
        }
    }

    @Test func waitStatusesDecode() {
        #expect(WorkerExit(waitStatus: 0) == .exited(code: 0))
        #expect(WorkerExit(waitStatus: 65 << 8) == .exited(code: 65))
        #expect(WorkerExit(waitStatus: 9) == .signaled(signal: 9))
        #expect(WorkerExit(waitStatus: 11 | 0x80) == .signaled(signal: 11))  // with a core dump
    }
}
