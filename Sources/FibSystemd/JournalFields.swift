import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// One `NAME=value` field of a journal entry.
public struct JournalField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// Turns a log event into journal fields, and fields into the iovecs sd_journal_sendv(3) takes.
public enum JournalFields {
    /// Metadata keys fibd logs under, and the journal fields they become. Both spellings of the
    /// worker pid are in use (the pool says `worker.pid`, the runtime `worker_pid`).
    static let knownKeys: [String: String] = [
        "task": "FIBD_TASK_ID",
        "n": "FIBD_N",
        "algorithm": "FIBD_ALGORITHM",
        "worker_pid": "FIBD_WORKER_PID",
        "worker.pid": "FIBD_WORKER_PID",
        "duration_usec": "FIBD_DURATION_USEC",
        "attempt": "FIBD_ATTEMPT",
        "message_id": "MESSAGE_ID",
    ]

    /// Every field of one entry: MESSAGE, PRIORITY, SYSLOG_IDENTIFIER, CODE_*, MESSAGE_ID (from the
    /// metadata or ``FibdMessageID``) and one field per metadata key (`FIBD_` and the key in capitals).
    public static func entry(
        identifier: String, level: Logger.Level, message: String, metadata: Logger.Metadata,
        file: String, function: String, line: UInt
    ) -> [JournalField] {
        var fields = [
            JournalField("MESSAGE", message),
            JournalField("PRIORITY", "\(syslogPriority(level))"),
            JournalField("SYSLOG_IDENTIFIER", identifier),
            JournalField("CODE_FILE", file),
            JournalField("CODE_LINE", "\(line)"),
            JournalField("CODE_FUNC", function),
        ]
        if metadata["message_id"] == nil, let id = FibdMessageID.forMessage(message) {
            fields.append(JournalField("MESSAGE_ID", id))
        }
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            fields.append(JournalField(fieldName(forMetadataKey: key), "\(value)"))
        }
        return fields
    }

    /// The journal field for a metadata key: a known one, else `FIBD_` and the key with every
    /// character outside A-Z and 0-9 made `_` (journal field names allow nothing else), at most 64 long.
    public static func fieldName(forMetadataKey key: String) -> String {
        if let known = knownKeys[key] { return known }
        let sanitized = key.uppercased().unicodeScalars.map { scalar -> Character in
            ("A"..."Z").contains(scalar) || ("0"..."9").contains(scalar) ? Character(scalar) : "_"
        }
        return String(("FIBD_" + String(sanitized)).prefix(64))
    }

    /// The syslog priority (0 emergency ... 7 debug) of a swift-log level.
    public static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// The bytes of every `NAME=value` pair, back to back, and where each one lies. A value may hold
    /// newlines or any byte: sd_journal_sendv(3) takes each iovec as one field, whatever it contains.
    public static func encode(_ fields: [JournalField]) -> (bytes: [UInt8], ranges: [Range<Int>]) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 1 })
        var ranges: [Range<Int>] = []
        ranges.reserveCapacity(fields.count)
        for field in fields {
            let start = bytes.count
            bytes += field.name.utf8
            bytes.append(UInt8(ascii: "="))
            bytes += field.value.utf8
            ranges.append(start..<bytes.count)
        }
        return (bytes, ranges)
    }

    /// Calls `body` with one iovec per field, valid only during the call.
    public static func withIOVectors<Result>(
        _ fields: [JournalField], _ body: (UnsafeBufferPointer<iovec>) -> Result
    ) -> Result {
        let (bytes, ranges) = encode(fields)
        return bytes.withUnsafeBytes { buffer in
            let vectors = ranges.map { range in
                iovec(
                    iov_base: buffer.baseAddress.map { UnsafeMutableRawPointer(mutating: $0 + range.lowerBound) },
                    iov_len: range.count)
            }
            return vectors.withUnsafeBufferPointer(body)
        }
    }
}
