#if canImport(Glibc)
    import Glibc
#endif

/// The address of an AF_UNIX socket: a path, or, when it starts with `@`, a name in the abstract
/// namespace (the `@` stands for the leading NUL byte), as `$NOTIFY_SOCKET` spells it.
struct UnixSocketAddress {
    private(set) var storage = sockaddr_un()
    let length: socklen_t

    /// Nil for an empty path, a relative one, or one too long for `sun_path`.
    init?(_ path: String) {
        var bytes = Array(path.utf8)
        let isAbstract = bytes.first == UInt8(ascii: "@")
        guard isAbstract || bytes.first == UInt8(ascii: "/") else { return nil }
        if isAbstract { bytes[0] = 0 }
        let capacity = MemoryLayout.size(ofValue: storage.sun_path)
        // A path needs room for its terminating NUL; an abstract name is exactly its bytes.
        guard bytes.count > 1, bytes.count + (isAbstract ? 0 : 1) <= capacity else { return nil }
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { sunPath in
            sunPath.copyBytes(from: bytes)
        }
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2
        length = socklen_t(pathOffset + bytes.count + (isAbstract ? 0 : 1))
    }

    func withSockaddr<Result>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> Result) -> Result {
        withUnsafePointer(to: storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}

/// A close-on-exec AF_UNIX datagram socket, or nil with errno set.
func openUnixDatagramSocket() -> CInt? {
    let descriptor = socket(AF_UNIX, CInt(SOCK_DGRAM.rawValue) | CInt(SOCK_CLOEXEC.rawValue), 0)
    return descriptor >= 0 ? descriptor : nil
}

/// Sends `bytes` as one datagram from `descriptor` to `address`, retrying on EINTR.
/// - Returns: 0, or the errno of the failure (EMSGSIZE when it does not fit in one datagram).
func sendDatagram(_ bytes: [UInt8], from descriptor: CInt, to address: UnixSocketAddress) -> CInt {
    let sent = bytes.withUnsafeBytes { buffer in
        address.withSockaddr { sockaddr, length in
            retryingOnInterrupt {
                sendto(descriptor, buffer.baseAddress, buffer.count, CInt(MSG_NOSIGNAL), sockaddr, length)
            }
        }
    }
    if sent < 0 { return errno }
    return sent == bytes.count ? 0 : EMSGSIZE
}

/// Runs a system call again while it fails with EINTR.
func retryingOnInterrupt<Result: BinaryInteger>(_ call: () -> Result) -> Result {
    while true {
        let result = call()
        if result >= 0 || errno != EINTR { return result }
    }
}
