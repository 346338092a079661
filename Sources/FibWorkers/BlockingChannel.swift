#if canImport(Glibc)
    import Glibc
#endif

/// The worker's end of the socketpair: plain blocking reads and writes, no event loop, so that
/// `fibd worker` starts without setting up NIO.
struct BlockingChannel {
    let descriptor: CInt

    enum ReadSomeOutcome: Equatable {
        case read(count: Int)
        /// EOF: the parent closed the channel.
        case endOfInput
        case failed(errno: CInt)
    }

    /// Reads what has arrived into `buffer` (at least one byte), waiting if nothing has; retries after EINTR.
    ///
    /// The wait is a poll for input, not a blocking read: a reader asleep in read(2) on a Unix socket is woken
    /// whenever its peer reads what the worker wrote (the kernel wakes that socket's sleepers when its send
    /// space frees up), so every answer the daemon read would wake the worker for nothing, and the daemon would
    /// pay for the wake-up. A poll for POLLIN alone lets the kernel drop that wake-up. There is no timeout: the
    /// worker has nothing to do until a job comes, and it dies with the daemon (PR_SET_PDEATHSIG).
    func readSome(into buffer: UnsafeMutableRawBufferPointer) -> ReadSomeOutcome {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return .failed(errno: ENOBUFS) }
        while true {
            var wanted = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            if poll(&wanted, 1, -1) < 0 {
                if errno == EINTR { continue }
                return .failed(errno: errno)
            }
            let count = read(descriptor, base, buffer.count)
            if count > 0 { return .read(count: count) }
            if count == 0 { return .endOfInput }
            if errno != EINTR { return .failed(errno: errno) }
        }
    }

    /// Writes all of `parts` in order, with as few system calls as the kernel allows.
    ///
    /// - Returns: 0, or the errno value of the failure (EPIPE if the parent is gone).
    func writeAll(_ parts: [[UInt8]]) -> CInt {
        Self.withRawBuffers(parts[...], pinned: []) { buffers in
            var index = 0
            var offset = 0
            var useSendmsg = true
            var vectors: [iovec] = []
            vectors.reserveCapacity(buffers.count)
            while index < buffers.count {
                if offset == buffers[index].count {
                    index += 1
                    offset = 0
                    continue
                }
                vectors.removeAll(keepingCapacity: true)
                for position in index..<buffers.count {
                    let skip = position == index ? offset : 0
                    let base = buffers[position].baseAddress.map { UnsafeMutableRawPointer(mutating: $0 + skip) }
                    vectors.append(iovec(iov_base: base, iov_len: buffers[position].count - skip))
                }
                let written = Self.writeOnce(descriptor, &vectors, useSendmsg: useSendmsg)
                if written < 0 {
                    let code = errno
                    if code == EINTR { continue }
                    if code == ENOTSOCK && useSendmsg {
                        // fd 3 is a pipe (a hand-made setup): plain writev.
                        useSendmsg = false
                        continue
                    }
                    return code
                }
                // A blocking stream socket never writes nothing; if it does, do not spin.
                guard written > 0 else { return EIO }
                var remaining = written
                while remaining > 0 {
                    let available = buffers[index].count - offset
                    if remaining >= available {
                        remaining -= available
                        index += 1
                        offset = 0
                    } else {
                        offset += remaining
                        remaining = 0
                    }
                }
            }
            return 0
        }
    }

    private static func writeOnce(_ descriptor: CInt, _ vectors: inout [iovec], useSendmsg: Bool) -> Int {
        vectors.withUnsafeMutableBufferPointer { iov in
            if useSendmsg {
                var message = msghdr()
                message.msg_iov = iov.baseAddress
                message.msg_iovlen = iov.count
                // MSG_NOSIGNAL: a dead parent is EPIPE here, not a SIGPIPE death.
                return sendmsg(descriptor, &message, CInt(MSG_NOSIGNAL))
            }
            return writev(descriptor, iov.baseAddress, CInt(iov.count))
        }
    }

    /// Calls `body` with the bytes of every part, pinned for the duration of the call.
    private static func withRawBuffers<R>(
        _ parts: ArraySlice<[UInt8]>,
        pinned: [UnsafeRawBufferPointer],
        _ body: ([UnsafeRawBufferPointer]) -> R
    ) -> R {
        guard let first = parts.first else { return body(pinned) }
        return first.withUnsafeBytes { bytes in
            withRawBuffers(parts.dropFirst(), pinned: pinned + [bytes], body)
        }
    }
}
