import FibCore

#if canImport(Glibc)
    import Glibc
#endif

/// The real clocks, read at the edge and handed to the pure scheduler.
public enum SystemClock {
    public static func now() -> Moment {
        var monotonic = timespec()
        var wall = timespec()
        clock_gettime(CLOCK_MONOTONIC, &monotonic)
        clock_gettime(CLOCK_REALTIME, &wall)
        return Moment(
            monotonicNanos: UInt64(monotonic.tv_sec) * nanosPerSecond + UInt64(monotonic.tv_nsec),
            wallNanos: Int64(wall.tv_sec) * Int64(nanosPerSecond) + Int64(wall.tv_nsec))
    }
}
