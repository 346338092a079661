#if canImport(Glibc)
    import Glibc
#endif

/// CPU time and resident memory of a process, read from /proc/<pid>/stat and /proc/<pid>/statm.
public struct ProcessSample: Sendable, Equatable {
    /// User plus system CPU time since the process started.
    public var cpuSeconds: Double
    public var residentBytes: UInt64

    public init(cpuSeconds: Double, residentBytes: UInt64) {
        self.cpuSeconds = cpuSeconds
        self.residentBytes = residentBytes
    }

    /// Samples `pid` now; nil if it is gone (or not readable).
    public static func read(pid: pid_t) -> ProcessSample? {
        guard let stat = readSmallFile("/proc/\(pid)/stat"),
            let statm = readSmallFile("/proc/\(pid)/statm"),
            let ticks = parseStatCPUTicks(stat),
            let pages = parseStatmResidentPages(statm)
        else { return nil }
        return ProcessSample(
            cpuSeconds: Double(ticks) / Double(clockTicksPerSecond),
            residentBytes: pages * pageSize
        )
    }

    static let clockTicksPerSecond = UInt64(max(sysconf(CInt(_SC_CLK_TCK)), 1))
    static let pageSize = UInt64(max(sysconf(CInt(_SC_PAGESIZE)), 1))

    /// utime + stime (fields 14 and 15) of /proc/<pid>/stat, in clock ticks. The command name
    /// (field 2) may hold spaces and parentheses, so fields are counted after its last ')'.
    public static func parseStatCPUTicks(_ text: String) -> UInt64? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state), so field k is fields[k - 3].
        guard fields.count > 12, let user = UInt64(fields[11]), let system = UInt64(fields[12]) else { return nil }
        return user + system
    }

    /// The state letter (field 3) of /proc/<pid>/stat: R, S, D, Z (zombie), ...
    public static func parseStatState(_ text: String) -> Character? {
        guard let close = text.lastIndex(of: ")") else { return nil }
        return text[text.index(after: close)...].split(separator: " ").first?.first
    }

    /// The resident set size (field 2) of /proc/<pid>/statm, in pages.
    public static func parseStatmResidentPages(_ text: String) -> UInt64? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count > 1 else { return nil }
        return UInt64(fields[1])
    }
}
