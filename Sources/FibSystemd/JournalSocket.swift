import CMemfd

#if canImport(Glibc)
    import Glibc
#endif

/// journald's native socket, written to as systemd.io/JOURNAL_NATIVE_PROTOCOL describes: each entry is one
/// datagram, and an entry too large for a datagram goes in a sealed memfd whose descriptor is sent instead.
///
/// One socket is opened for the life of the process (``system`` opens it on first use); sends from several
/// threads at once are safe, since each entry is a single sendto(2) or sendmsg(2).
public final class JournalSocket: Sendable {
    /// The socket journald listens on.
    public static let system = JournalSocket(path: "/run/systemd/journal/socket")

    public let path: String
    private let address: UnixSocketAddress?
    /// -1 when the socket could not be opened; every send then fails with the errno of that.
    private let descriptor: CInt
    private let openError: CInt

    public init(path: String) {
        self.path = path
        address = UnixSocketAddress(path)
        if let descriptor = openUnixDatagramSocket() {
            self.descriptor = descriptor
            openError = 0
            Self.enlargeSendBuffer(descriptor)
        } else {
            descriptor = -1
            openError = errno
        }
    }

    deinit {
        if descriptor >= 0 { close(descriptor) }
    }

    /// Sends one entry.
    /// - Returns: 0, or the errno of the failure (ENOENT or ECONNREFUSED when journald does not run).
    @discardableResult
    public func send(_ fields: [JournalField]) -> CInt {
        guard descriptor >= 0 else { return openError }
        guard let address else { return EINVAL }
        let entry = JournalFields.nativeEntry(fields)
        let error = sendDatagram(entry, from: descriptor, to: address)
        // Too large for one datagram, or the socket's buffer is full: the memfd takes any size at once.
        guard error == EMSGSIZE || error == ENOBUFS || error == EAGAIN else { return error }
        return sendInMemoryFile(entry, to: address)
    }

    /// Writes the entry to a memfd, seals it (journald maps only a sealed one, and trusts that it no longer
    /// changes) and sends its descriptor with SCM_RIGHTS in an otherwise empty datagram.
    private func sendInMemoryFile(_ entry: [UInt8], to address: UnixSocketAddress) -> CInt {
        let file = memfd_create("journal-entry", fibd_memfd_cloexec | fibd_memfd_allow_sealing)
        guard file >= 0 else { return errno }
        defer { close(file) }
        let written = entry.withUnsafeBytes { buffer in
            guard let start = buffer.baseAddress else { return true }
            var offset = 0
            while offset < buffer.count {
                let count = retryingOnInterrupt { write(file, start + offset, buffer.count - offset) }
                guard count > 0 else { return false }
                offset += count
            }
            return true
        }
        guard written else { return errno }
        let seals = fibd_seal_seal | fibd_seal_shrink | fibd_seal_grow | fibd_seal_write
        guard fcntl(file, fibd_fcntl_add_seals, seals) == 0 else { return errno }
        return sendDescriptor(file, to: address)
    }

    private func sendDescriptor(_ file: CInt, to address: UnixSocketAddress) -> CInt {
        let headerSize = MemoryLayout<cmsghdr>.size
        let descriptorSize = MemoryLayout<CInt>.size
        // CMSG_SPACE(sizeof(int)): the header and the descriptor, padded to the alignment of size_t.
        let alignment = MemoryLayout<Int>.size
        let controlSize = headerSize + (descriptorSize + alignment - 1) / alignment * alignment
        var control = [UInt8](repeating: 0, count: controlSize)
        var name = address.storage
        let sent = control.withUnsafeMutableBytes { controlBytes in
            var header = cmsghdr()
            header.cmsg_len = headerSize + descriptorSize
            header.cmsg_level = SOL_SOCKET
            header.cmsg_type = CInt(SCM_RIGHTS)
            controlBytes.storeBytes(of: header, as: cmsghdr.self)
            controlBytes.storeBytes(of: file, toByteOffset: headerSize, as: CInt.self)
            return withUnsafeMutablePointer(to: &name) { namePointer in
                var message = msghdr()
                message.msg_name = UnsafeMutableRawPointer(namePointer)
                message.msg_namelen = address.length
                message.msg_control = controlBytes.baseAddress
                message.msg_controllen = controlBytes.count
                return retryingOnInterrupt { sendmsg(descriptor, &message, CInt(MSG_NOSIGNAL)) }
            }
        }
        return sent < 0 ? errno : 0
    }

    /// As large a send buffer as allowed (8 MB, like libsystemd's), so that most entries fit in one datagram:
    /// SO_SNDBUFFORCE passes the system's limit where the process may (CAP_NET_ADMIN), SO_SNDBUF is capped by it.
    private static func enlargeSendBuffer(_ descriptor: CInt) {
        var size: CInt = 8 * 1024 * 1024
        let length = socklen_t(MemoryLayout<CInt>.size)
        if setsockopt(descriptor, SOL_SOCKET, SO_SNDBUFFORCE, &size, length) != 0 {
            _ = setsockopt(descriptor, SOL_SOCKET, SO_SNDBUF, &size, length)
        }
    }
}
