import FibSystemd
import Foundation
import Logging
import Testing

@Suite struct JournalFieldTests {
    @Test func entryCarriesTheStandardAndFibdFields() {
        let fields = JournalFields.entry(
            identifier: "fibd", level: .warning, message: "task failed",
            metadata: [
                "task": "00000000000000ff", "n": "90", "algorithm": "recursive", "worker.pid": "4242",
                "duration_usec": "1500", "attempt": "3", "error": "worker died",
            ],
            file: "FibServer/TaskRuntime.swift", function: "logEnd(of:)", line: 42)
        let byName = Dictionary(fields.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        #expect(byName["MESSAGE"] == "task failed")
        #expect(byName["PRIORITY"] == "4")
        #expect(byName["SYSLOG_IDENTIFIER"] == "fibd")
        #expect(byName["CODE_FILE"] == "FibServer/TaskRuntime.swift")
        #expect(byName["CODE_LINE"] == "42")
        #expect(byName["CODE_FUNC"] == "logEnd(of:)")
        #expect(byName["MESSAGE_ID"] == FibdMessageID.taskFailed)
        #expect(byName["FIBD_TASK_ID"] == "00000000000000ff")
        #expect(byName["FIBD_N"] == "90")
        #expect(byName["FIBD_ALGORITHM"] == "recursive")
        #expect(byName["FIBD_WORKER_PID"] == "4242")
        #expect(byName["FIBD_DURATION_USEC"] == "1500")
        #expect(byName["FIBD_ATTEMPT"] == "3")
        #expect(byName["FIBD_ERROR"] == "worker died")
        #expect(fields.count == byName.count, "no field twice")
    }

    @Test func messageIDFromMetadataWins() {
        let fields = JournalFields.entry(
            identifier: "fibd", level: .info, message: "task done",
            metadata: ["message_id": "0123456789abcdef0123456789abcdef"],
            file: "f", function: "g", line: 1)
        #expect(fields.filter { $0.name == "MESSAGE_ID" }.map(\.value) == ["0123456789abcdef0123456789abcdef"])
    }

    @Test func everyEventHasItsOwnID() {
        let ids = [
            FibdMessageID.taskSubmitted, FibdMessageID.taskStarted, FibdMessageID.taskDone, FibdMessageID.taskFailed,
            FibdMessageID.taskCancelled, FibdMessageID.taskTimedOut, FibdMessageID.workerSpawned,
            FibdMessageID.workerDied, FibdMessageID.workerExited, FibdMessageID.reload, FibdMessageID.stop,
            FibdMessageID.ready,
        ]
        #expect(Set(ids).count == ids.count)
        for id in ids {
            #expect(id.count == 32 && id.allSatisfy { $0.isHexDigit && !$0.isUppercase }, "\(id) is 128-bit hex")
        }
        #expect(FibdMessageID.forMessage("task timed_out") == FibdMessageID.taskTimedOut)
        #expect(FibdMessageID.forMessage("worker spawned") == FibdMessageID.workerSpawned)
        #expect(FibdMessageID.forMessage("listening on 127.0.0.1:8787") == nil)
    }

    @Test func metadataKeysBecomeValidFieldNames() {
        #expect(JournalFields.fieldName(forMetadataKey: "worker_pid") == "FIBD_WORKER_PID")
        #expect(JournalFields.fieldName(forMetadataKey: "worker.pid") == "FIBD_WORKER_PID")
        #expect(JournalFields.fieldName(forMetadataKey: "worker.slot") == "FIBD_WORKER_SLOT")
        #expect(JournalFields.fieldName(forMetadataKey: "fd-name é") == "FIBD_FD_NAME__")
        let long = JournalFields.fieldName(forMetadataKey: String(repeating: "k", count: 100))
        #expect(long.count == 64 && long.hasPrefix("FIBD_KKK"))
    }

    @Test func prioritiesFollowSyslog() {
        let levels: [Logger.Level] = [.trace, .debug, .info, .notice, .warning, .error, .critical]
        #expect(levels.map(JournalFields.syslogPriority) == [7, 7, 6, 5, 4, 3, 2])
    }

    /// A value without a newline is `NAME=value\n`; one with a newline is `NAME\n`, its length as 64-bit
    /// little-endian, the bytes and `\n`.
    @Test func nativeEntryEncodesEachField() throws {
        let entry = JournalFields.nativeEntry([
            JournalField("FIBD_N", "10"), JournalField("MESSAGE", "two\nlines"), JournalField("EMPTY", ""),
            JournalField("UNICODE", "φ ≈ 1.618"),
        ])
        var expected = Array("FIBD_N=10\nMESSAGE\n".utf8)
        expected += [9, 0, 0, 0, 0, 0, 0, 0]
        expected += Array("two\nlines\nEMPTY=\nUNICODE=φ ≈ 1.618\n".utf8)
        #expect(entry == expected)
        #expect(
            try NativeEntry.parse(entry) == [
                JournalField("FIBD_N", "10"), JournalField("MESSAGE", "two\nlines"), JournalField("EMPTY", ""),
                JournalField("UNICODE", "φ ≈ 1.618"),
            ])
    }
}

@Suite struct StandardErrorFormatTests {
    @Test func priorityPrefixForPipes() {
        let line = StandardErrorLogHandler.line(
            style: .priorityPrefix, level: .info, message: "listening on 127.0.0.1:8787", metadata: [:])
        #expect(line == "<6>listening on 127.0.0.1:8787")
    }

    @Test func plainForTerminalsWithSortedMetadata() {
        let line = StandardErrorLogHandler.line(
            style: .plain, level: .warning, message: "worker died", metadata: ["worker.pid": "7", "error": "x"])
        #expect(line == "warning: worker died error=x worker.pid=7")
    }

    @Test func oneMessageIsOneLine() {
        let line = StandardErrorLogHandler.line(style: .priorityPrefix, level: .error, message: "a\nb", metadata: [:])
        #expect(line == "<3>a b")
    }

    @Test func thresholdIsSharedUntilAHandlerSetsItsOwn() {
        let threshold = LogThreshold(.info)
        var first = StandardErrorLogHandler(style: .plain, threshold: threshold)
        let second = JournalLogHandler(identifier: "fibd", threshold: threshold)
        threshold.level = .debug
        #expect(first.logLevel == .debug && second.logLevel == .debug)
        first.logLevel = .error
        threshold.level = .trace
        #expect(first.logLevel == .error && second.logLevel == .trace)
    }
}
