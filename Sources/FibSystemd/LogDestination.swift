#if canImport(Glibc)
    import Glibc
#endif

/// Where the daemon's log goes: journald when stderr is the journal stream systemd set up,
/// else stderr itself (see ``StandardErrorLogHandler``).
public enum LogDestination: Sendable, Equatable {
    case journal
    case standardError(StandardErrorLogHandler.Style)

    /// As systemd.exec(5) says: stderr is connected to journald when `$JOURNAL_STREAM` names its
    /// device and inode. A redirected stderr (`2>file`) no longer matches, and then the file gets the log.
    public static func detect(environment: [String: String]) -> LogDestination {
        var status = stat()
        if let stream = environment["JOURNAL_STREAM"], fstat(2, &status) == 0,
            journalStreamMatches(stream, device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
        {
            return .journal
        }
        return .standardError(isatty(2) == 1 ? .plain : .priorityPrefix)
    }

    /// Whether `$JOURNAL_STREAM` ("DEVICE:INODE", both decimal) names this device and inode.
    public static func journalStreamMatches(_ value: String, device: UInt64, inode: UInt64) -> Bool {
        let parts = value.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let streamDevice = UInt64(parts[0]), let streamInode = UInt64(parts[1]) else {
            return false
        }
        return streamDevice == device && streamInode == inode
    }
}
