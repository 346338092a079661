import Logging

/// A swift-log handler that writes each message to journald as a structured entry over the native
/// protocol (``JournalSocket``); see ``JournalFields`` for the fields.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    /// SYSLOG_IDENTIFIER: "fibd" for the daemon, "fibd-worker" for a worker.
    public let identifier: String
    /// Where the entries go: journald's own socket, unless a test gives its own.
    public let socket: JournalSocket
    private let threshold: LogThreshold
    private var ownLevel: Logger.Level?

    public init(
        identifier: String, threshold: LogThreshold, metadataProvider: Logger.MetadataProvider? = nil,
        socket: JournalSocket = .system
    ) {
        self.identifier = identifier
        self.socket = socket
        self.threshold = threshold
        self.metadataProvider = metadataProvider
    }

    public var logLevel: Logger.Level {
        get { ownLevel ?? threshold.level }
        set { ownLevel = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let fields = JournalFields.entry(
            identifier: identifier, level: event.level, message: event.message.description,
            metadata: mergedMetadata(metadata, metadataProvider, event.metadata),
            file: event.file, function: event.function, line: event.line)
        // A failed send has nowhere better to go: stderr is the journal stream too.
        socket.send(fields)
    }
}

/// The handler's metadata, then the provider's, then the message's own; later ones win.
func mergedMetadata(
    _ handler: Logger.Metadata, _ provider: Logger.MetadataProvider?, _ message: Logger.Metadata?
) -> Logger.Metadata {
    var merged = handler
    if let provided = provider?.get(), !provided.isEmpty { merged.merge(provided) { $1 } }
    if let message, !message.isEmpty { merged.merge(message) { $1 } }
    return merged
}
