#if canImport(Glibc)
    import Glibc
#endif

/// The number of CPUs fibd may keep busy: the smaller of the CPUs in its affinity mask and its
/// cgroup's CPU quota (rounded up), at least 1. This is the default size of the worker pool.
public func usableCPUCount() -> Int {
    CPUDiscovery.usableCPUCount()
}

/// Where the CPU limits of this process come from, and the parsers of the files that hold them.
public enum CPUDiscovery {
    /// The mount point of the cgroup hierarchies.
    static let cgroupRoot = "/sys/fs/cgroup"

    public static func usableCPUCount() -> Int {
        let online = Int(sysconf(CInt(_SC_NPROCESSORS_ONLN)))
        var count = LinuxCalls.affinityCPUCount() ?? max(online, 1)
        if let quota = cgroupCPULimit() {
            count = min(count, quota)
        }
        return max(count, 1)
    }

    /// The CPU quota of this process's cgroup and its ancestors (the tightest wins), in whole CPUs;
    /// nil if there is none.
    public static func cgroupCPULimit() -> Int? {
        guard let text = readSmallFile("/proc/self/cgroup") else { return nil }
        let paths = parseProcCgroup(text)
        if let path = paths.unified {
            let limits = ancestors(of: path).compactMap { directory in
                readSmallFile(cgroupRoot + directory + "/cpu.max").flatMap(parseCgroupV2CPUMax)
            }
            if let tightest = limits.min() { return tightest }
        }
        if let (controllers, path) = paths.cpuV1 {
            for mount in [controllers, "cpu,cpuacct", "cpu"] {
                let limits = ancestors(of: path).compactMap { directory -> Int? in
                    let base = cgroupRoot + "/" + mount + directory
                    guard let quota = readSmallFile(base + "/cpu.cfs_quota_us"),
                        let period = readSmallFile(base + "/cpu.cfs_period_us")
                    else { return nil }
                    return parseCgroupV1Quota(quota: quota, period: period)
                }
                if let tightest = limits.min() { return tightest }
            }
        }
        return nil
    }

    /// The cgroup paths in /proc/self/cgroup: the unified (v2) one and the v1 hierarchy that has
    /// the `cpu` controller (with its controller list, which names its mount directory).
    public struct ProcCgroupPaths: Sendable, Equatable {
        public var unified: String?
        public var cpuV1: (controllers: String, path: String)?

        public static func == (lhs: Self, rhs: Self) -> Bool {
            lhs.unified == rhs.unified && lhs.cpuV1?.controllers == rhs.cpuV1?.controllers
                && lhs.cpuV1?.path == rhs.cpuV1?.path
        }
    }

    /// Parses /proc/self/cgroup: lines of `hierarchy-id:controllers:path`; `0::path` is cgroup v2.
    public static func parseProcCgroup(_ text: String) -> ProcCgroupPaths {
        var paths = ProcCgroupPaths()
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, fields[2].hasPrefix("/") else { continue }
            if fields[0] == "0" && fields[1].isEmpty {
                paths.unified = String(fields[2])
            } else if fields[1].split(separator: ",").contains("cpu") {
                paths.cpuV1 = (String(fields[1]), String(fields[2]))
            }
        }
        return paths
    }

    /// Parses cgroup v2 `cpu.max` ("quota period", or "max period" for no limit) into whole CPUs.
    public static func parseCgroupV2CPUMax(_ text: String) -> Int? {
        let fields = text.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count == 2, let quota = Int(fields[0]), let period = Int(fields[1]) else { return nil }
        return wholeCPUs(quota: quota, period: period)
    }

    /// Parses cgroup v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us` (quota -1 means no limit).
    public static func parseCgroupV1Quota(quota: String, period: String) -> Int? {
        guard let quota = Int(trimmed(quota)), let period = Int(trimmed(period)) else { return nil }
        return wholeCPUs(quota: quota, period: period)
    }

    private static func wholeCPUs(quota: Int, period: Int) -> Int? {
        guard quota > 0, period > 0 else { return nil }
        return max(1, (quota + period - 1) / period)
    }

    /// "/a/b" -> ["/a/b", "/a", ""]: the cgroup and its ancestors, as suffixes of a mount point.
    static func ancestors(of path: String) -> [String] {
        var components = path.split(separator: "/").map(String.init)
        var result: [String] = []
        while true {
            result.append(components.isEmpty ? "" : "/" + components.joined(separator: "/"))
            guard !components.isEmpty else { return result }
            components.removeLast()
        }
    }

    private static func trimmed(_ text: String) -> Substring {
        text.split(whereSeparator: { $0 == " " || $0 == "\n" }).first ?? ""
    }
}

/// Reads a small text file (procfs, cgroupfs) with plain system calls; nil if it cannot be read.
func readSmallFile(_ path: String, limit: Int = 64 * 1024) -> String? {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while bytes.count < limit {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count > 0 {
            bytes.append(contentsOf: chunk[0..<count])
        } else if count == 0 {
            break
        } else if errno != EINTR {
            return nil
        }
    }
    return String(decoding: bytes, as: UTF8.self)
}
