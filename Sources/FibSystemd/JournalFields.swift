import Logging

/// One `NAME=value` field of a journal entry.
public struct JournalField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

/// Turns a log event into journal fields, and fields into an entry of the journal's native protocol.
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

    /// One entry in the journal's native protocol (systemd.io/JOURNAL_NATIVE_PROTOCOL): each field as
    /// `NAME=value` and a newline, or, for a value that holds a newline, `NAME`, a newline, the value's
    /// length as a 64-bit little-endian integer, the value and a newline. A value may hold any byte.
    public static func nativeEntry(_ fields: [JournalField]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(fields.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 10 })
        for field in fields {
            bytes += field.name.utf8
            if field.value.utf8.contains(UInt8(ascii: "\n")) {
                bytes.append(UInt8(ascii: "\n"))
                withUnsafeBytes(of: UInt64(field.value.utf8.count).littleEndian) { bytes += $0 }
            } else {
                bytes.append(UInt8(ascii: "="))
            }
            bytes += field.value.utf8
            bytes.append(UInt8(ascii: "\n"))
        }
        return bytes
    }
}
