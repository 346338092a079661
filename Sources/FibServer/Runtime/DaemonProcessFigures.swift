#if canImport(Glibc)
    import Glibc
#endif

/// The daemon's own CPU time, resident memory and open file descriptors, read from /proc/self
/// (zeros where /proc is not mounted). A read costs three small file reads and a directory walk.
struct DaemonProcessFigures: Sendable {
    var cpuSeconds = 0.0
    var rssBytes = 0
    var openFileDescriptors = 0

    static func read() -> DaemonProcessFigures {
        var figures = DaemonProcessFigures()
        if let stat = readSmallFile("/proc/self/stat"), let close = stat.lastIndex(of: UInt8(ascii: ")")) {
            // Fields after the command name, which may hold spaces: utime and stime are the 12th and 13th.
            let fields = stat[(close + 2)...].split(separator: UInt8(ascii: " "))
            if fields.count > 12, let user = Int(ascii: fields[11]), let system = Int(ascii: fields[12]) {
                let ticks = max(1, sysconf(Int32(_SC_CLK_TCK)))
                figures.cpuSeconds = Double(user + system) / Double(ticks)
            }
        }
        if let statm = readSmallFile("/proc/self/statm") {
            let fields = statm.split(separator: UInt8(ascii: " "))
            if fields.count > 1, let pages = Int(ascii: fields[1]) {
                figures.rssBytes = pages * Int(max(1, sysconf(Int32(_SC_PAGESIZE))))
            }
        }
        if let directory = opendir("/proc/self/fd") {
            var count = 0
            while let entry = readdir(directory) {
                if entry.pointee.d_name.0 != 46 { count += 1 }
            }
            closedir(directory)
            figures.openFileDescriptors = max(0, count - 1)  // the directory's own descriptor
        }
        return figures
    }

    private static func readSmallFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        let count = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        return Array(bytes[..<count])
    }
}

extension Int {
    fileprivate init?(ascii digits: ArraySlice<UInt8>) {
        var value = 0
        for byte in digits {
            if byte == UInt8(ascii: "\n") { break }
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value &* 10 &+ Int(byte - UInt8(ascii: "0"))
        }
        self = value
    }
}
