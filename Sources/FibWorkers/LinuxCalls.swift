#if canImport(Glibc)
    import Glibc
#endif

/// Linux calls that Swift's Glibc module does not import: `prctl` is variadic,
/// `sched_getaffinity` and `posix_spawn_file_actions_addclosefrom_np` sit behind _GNU_SOURCE.
/// They are looked up once with dlsym and called through C function pointers, so that the
/// calling convention is right without a C shim target in Package.swift.
enum LinuxCalls {
    private typealias PrctlFunction = @convention(c) (CInt, UInt, UInt, UInt, UInt) -> CInt
    private typealias AffinityFunction = @convention(c) (pid_t, Int, UnsafeMutableRawPointer) -> CInt
    private typealias ClosefromFunction =
        @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, CInt) -> CInt

    private static func lookUp<F>(_ name: String, as type: F.Type) -> F? {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, name) else { return nil }
        return unsafeBitCast(symbol, to: type)
    }

    /// `prctl(PR_SET_PDEATHSIG, signal)`: the kernel sends `signal` to this process when the thread
    /// that spawned it ends. Returns false if the call failed.
    static func setParentDeathSignal(_ signal: CInt) -> Bool {
        let prSetPdeathsig: CInt = 1
        guard let prctl = lookUp("prctl", as: PrctlFunction.self) else { return false }
        return prctl(prSetPdeathsig, UInt(signal), 0, 0, 0) == 0
    }

    /// The number of CPUs this process may run on, or nil if the kernel would not say.
    static func affinityCPUCount() -> Int? {
        guard let getaffinity = lookUp("sched_getaffinity", as: AffinityFunction.self) else { return nil }
        // 1024 CPUs, as glibc's cpu_set_t; a larger machine fails with EINVAL and falls back.
        var mask = [UInt64](repeating: 0, count: 16)
        let result = mask.withUnsafeMutableBytes { bytes -> CInt in
            guard let base = bytes.baseAddress else { return -1 }
            return getaffinity(0, bytes.count, base)
        }
        guard result == 0 else { return nil }
        return mask.reduce(0) { $0 + $1.nonzeroBitCount }
    }

    /// posix_spawn_file_actions_addclosefrom_np (glibc 2.34+): close every descriptor >= `lowest`
    /// in the child. Returns an errno value, ENOSYS if this glibc lacks it.
    static func addCloseFrom(
        _ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>,
        lowest: CInt
    ) -> CInt {
        guard let closefrom = closefromFunction else { return ENOSYS }
        return closefrom(actions, lowest)
    }

    private static let closefromFunction = lookUp(
        "posix_spawn_file_actions_addclosefrom_np",
        as: ClosefromFunction.self
    )
}

/// The description of an errno value.
func errnoDescription(_ code: CInt) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return String(cString: text)
}

/// CLOCK_MONOTONIC in nanoseconds: the clock of `spawnedAt` and of the worker's timings.
func monotonicNanos() -> UInt64 {
    var now = timespec()
    clock_gettime(CLOCK_MONOTONIC, &now)
    return UInt64(now.tv_sec) &* 1_000_000_000 &+ UInt64(now.tv_nsec)
}
