import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// A swift-log handler that writes one line per message to stderr, when stderr is not journald.
///
/// To a pipe or file each line starts with the syslog priority as sd-daemon(3) defines it
/// (`<6>listening on 127.0.0.1:8787`), which journald and other log collectors understand;
/// on a terminal the level is written out instead (`info: listening on ...`).
public struct StandardErrorLogHandler: LogHandler {
    public enum Style: Sendable, Equatable {
        /// `<N>message key=value`
        case priorityPrefix
        /// `level: message key=value`
        case plain
    }

    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public let style: Style
    private let threshold: LogThreshold
    private var ownLevel: Logger.Level?

    public init(style: Style, threshold: LogThreshold, metadataProvider: Logger.MetadataProvider? = nil) {
        self.style = style
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
        var line = Self.line(
            style: style, level: event.level, message: event.message.description,
            metadata: mergedMetadata(metadata, metadataProvider, event.metadata))
        line.append("\n")
        // One write per line, so that lines from several threads never interleave.
        line.withUTF8 { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = write(2, bytes.baseAddress.map { $0 + offset }, bytes.count - offset)
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }

    /// The text of one line, without its newline. Newlines inside the message become spaces, so
    /// that one message is one line (and one journal entry when a collector reads the stream).
    public static func line(style: Style, level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        var text: String
        switch style {
        case .priorityPrefix: text = "<\(JournalFields.syslogPriority(level))>\(message)"
        case .plain: text = "\(level): \(message)"
        }
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            text += " \(key)=\(value)"
        }
        return String(text.map { $0 == "\n" ? " " : $0 })
    }
}
