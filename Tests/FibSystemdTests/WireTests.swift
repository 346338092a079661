import CMemfd
import FibSystemd
import Foundation
import Logging
import Testing

/// What fibd sends to systemd, read off a datagram socket of the test's own: the notify protocol and
/// the journal's native protocol, byte for byte.
@Suite struct NotifyWireTests {
    @Test func messagesArriveAsOneDatagram() throws {
        let receiver = try DatagramReceiver()
        let notifier = ServiceNotifier(environment: ["NOTIFY_SOCKET": receiver.name])
        #expect(notifier.isEnabled)
        #expect(notifier.send(.ready, .status("2 workers, 0 running, 0 queued, 0 done")))
        let datagram = try receiver.receive()
        #expect(
            String(decoding: datagram.bytes, as: UTF8.self) == "READY=1\nSTATUS=2 workers, 0 running, 0 queued, 0 done")
        #expect(datagram.descriptors.isEmpty)

        #expect(notifier.send(.reloading(monotonicMicroseconds: 42)))
        #expect(String(decoding: try receiver.receive().bytes, as: UTF8.self) == "RELOADING=1\nMONOTONIC_USEC=42")
        #expect(notifier.send(.watchdog))
        #expect(String(decoding: try receiver.receive().bytes, as: UTF8.self) == "WATCHDOG=1")
        #expect(notifier.send(.stopping, .errno(98)))
        #expect(String(decoding: try receiver.receive().bytes, as: UTF8.self) == "STOPPING=1\nERRNO=98")
    }

    /// `@name` is a socket in the abstract namespace, as systemd passes it to services in containers.
    @Test func abstractNamespace() throws {
        let receiver = try DatagramReceiver(abstract: true)
        #expect(receiver.name.hasPrefix("@"))
        #expect(ServiceNotifier(environment: ["NOTIFY_SOCKET": receiver.name]).send(.ready))
        #expect(String(decoding: try receiver.receive().bytes, as: UTF8.self) == "READY=1")
    }

    @Test func unusableSocketsFailWithoutHarm() {
        #expect(!ServiceNotifier(environment: ["NOTIFY_SOCKET": "relative/path"]).send(.ready))
        #expect(!ServiceNotifier(environment: ["NOTIFY_SOCKET": "/nonexistent/fibd-notify"]).send(.ready))
        let tooLong = "/" + String(repeating: "x", count: 200)
        #expect(!ServiceNotifier(environment: ["NOTIFY_SOCKET": tooLong]).send(.ready))
    }

    /// The notifier reads the environment it is given and leaves the process's own alone.
    @Test func environmentIsKept() throws {
        let receiver = try DatagramReceiver()
        setenv("FIBD_TEST_NOTIFY_SOCKET", receiver.name, 1)
        defer { unsetenv("FIBD_TEST_NOTIFY_SOCKET") }
        let notifier = ServiceNotifier(environment: ["NOTIFY_SOCKET": receiver.name])
        #expect(notifier.send(.ready) && notifier.send(.ready))
        #expect(try receiver.receive().bytes.count == 7)
        #expect(try receiver.receive().bytes.count == 7)
    }
}

@Suite struct JournalWireTests {
    @Test func fieldsArriveInTheNativeProtocol() throws {
        let receiver = try DatagramReceiver()
        let socket = JournalSocket(path: receiver.name)
        let fields = [
            JournalField("MESSAGE", "task failed"), JournalField("PRIORITY", "3"),
            JournalField("FIBD_ERROR", "line one\nline two\n"), JournalField("SYSLOG_IDENTIFIER", "fibd"),
        ]
        #expect(socket.send(fields) == 0)
        let datagram = try receiver.receive()
        #expect(datagram.descriptors.isEmpty)
        #expect(try NativeEntry.parse(datagram.bytes) == fields)
    }

    /// An entry larger than any datagram goes in a sealed memfd, passed in an empty datagram.
    @Test func aTooLargeEntryGoesInASealedMemfd() throws {
        let receiver = try DatagramReceiver()
        let socket = JournalSocket(path: receiver.name)
        // Larger than the 8 MB send buffer that even CAP_NET_ADMIN gets.
        let large = String(repeating: "0123456789abcde\n", count: 9 * 1024 * 1024 / 16)
        let fields = [JournalField("MESSAGE", "big"), JournalField("FIBD_DUMP", large)]
        #expect(socket.send(fields) == 0)
        let datagram = try receiver.receive()
        #expect(datagram.bytes.isEmpty)
        try #require(datagram.descriptors.count == 1)
        let file = datagram.descriptors[0]
        defer { close(file) }
        let seals = fcntl(file, fibd_fcntl_get_seals)
        let required = fibd_seal_seal | fibd_seal_shrink | fibd_seal_grow | fibd_seal_write
        #expect(seals >= 0 && seals & required == required)
        // The descriptor shares the sender's file offset, which is at the end: journald maps the file instead.
        #expect(lseek(file, 0, SEEK_SET) == 0)
        let contents = try FileHandle(fileDescriptor: file, closeOnDealloc: false).readToEnd() ?? Data()
        #expect(try NativeEntry.parse(Array(contents)) == fields)
    }

    /// The log handler's whole entry: the standard fields, the code location and fibd's own.
    @Test func logHandlerSendsEveryField() throws {
        let receiver = try DatagramReceiver()
        var handler = JournalLogHandler(
            identifier: "fibd-worker", threshold: LogThreshold(.info), socket: JournalSocket(path: receiver.name))
        handler[metadataKey: "worker.pid"] = "4242"
        let logger = Logger(label: "test") { _ in handler }
        logger.debug("below the threshold")
        logger.warning("task failed", metadata: ["task": "00000000000000ff", "error": "exit 9\nkilled"])
        let fields = try NativeEntry.parse(try receiver.receive().bytes)
        let byName = Dictionary(fields.map { ($0.name, $0.value) }, uniquingKeysWith: { first, _ in first })
        #expect(fields.count == byName.count, "no field twice")
        #expect(byName["MESSAGE"] == "task failed")
        #expect(byName["PRIORITY"] == "4")
        #expect(byName["SYSLOG_IDENTIFIER"] == "fibd-worker")
        #expect(byName["MESSAGE_ID"] == FibdMessageID.taskFailed)
        #expect(byName["CODE_FILE"]?.hasSuffix("WireTests.swift") == true)
        #expect(byName["CODE_FUNC"] == "logHandlerSendsEveryField()")
        #expect(Int(byName["CODE_LINE"] ?? "") != nil)
        #expect(byName["FIBD_TASK_ID"] == "00000000000000ff")
        #expect(byName["FIBD_WORKER_PID"] == "4242")
        #expect(byName["FIBD_ERROR"] == "exit 9\nkilled")
        #expect(receiver.isEmpty, "the debug message was not sent")
    }

    @Test func noJournalIsAnErrorNotACrash() {
        #expect(JournalSocket(path: "/nonexistent/fibd-journal").send([JournalField("MESSAGE", "x")]) == ENOENT)
        #expect(JournalSocket(path: "relative").send([JournalField("MESSAGE", "x")]) == EINVAL)
    }
}

@Suite struct ActivationEnvironmentTests {
    @Test func listenersAddressedToThisProcess() throws {
        let environment = ["LISTEN_PID": "77", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "web:"]
        let listeners = try SocketActivation.listeners(environment: environment, processID: 77)
        #expect(
            listeners == [
                InheritedListener(descriptor: 3, name: "web"), InheritedListener(descriptor: 4, name: "unknown"),
            ])
        let unnamed = try SocketActivation.listeners(
            environment: ["LISTEN_PID": "77", "LISTEN_FDS": "1"], processID: 77)
        #expect(unnamed == [InheritedListener(descriptor: 3, name: "unknown")])
    }

    @Test func noneForAnotherProcessOrWithoutVariables() throws {
        #expect(try SocketActivation.listeners(environment: [:], processID: 77).isEmpty)
        #expect(try SocketActivation.listeners(environment: ["LISTEN_FDS": "2"], processID: 77).isEmpty)
        #expect(
            try SocketActivation.listeners(environment: ["LISTEN_PID": "78", "LISTEN_FDS": "2"], processID: 77).isEmpty)
        #expect(
            try SocketActivation.listeners(environment: ["LISTEN_PID": "77", "LISTEN_FDS": "0"], processID: 77).isEmpty)
    }

    @Test func malformedVariablesAreErrors() {
        for environment in [
            ["LISTEN_PID": "x", "LISTEN_FDS": "1"], ["LISTEN_PID": "77", "LISTEN_FDS": "-1"],
            ["LISTEN_PID": "77", "LISTEN_FDS": "two"], ["LISTEN_PID": "77", "LISTEN_FDS": "2", "LISTEN_FDNAMES": "a"],
        ] {
            #expect(throws: SocketActivationError.self, "\(environment)") {
                try SocketActivation.listeners(environment: environment, processID: 77)
            }
        }
    }

    /// The real thing: the variables are read, taken out of the environment, and the descriptors checked.
    @Test func inheritedListenersReadsAndUnsetsTheEnvironment() throws {
        setenv("LISTEN_PID", "\(getpid() + 1)", 1)
        setenv("LISTEN_FDS", "1", 1)
        setenv("LISTEN_FDNAMES", "web", 1)
        #expect(try SocketActivation.inheritedListeners().isEmpty, "addressed to another process")
        #expect(getenv("LISTEN_PID") == nil && getenv("LISTEN_FDS") == nil && getenv("LISTEN_FDNAMES") == nil)
    }

    @Test func onlyAListeningStreamSocketPasses() throws {
        let stream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let datagram = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        var pipeEnds: [Int32] = [-1, -1]
        #expect(stream >= 0 && datagram >= 0 && pipe(&pipeEnds) == 0)
        defer { for descriptor in [stream, datagram] + pipeEnds { close(descriptor) } }
        #expect(!SocketActivation.isListeningStreamSocket(stream), "not listening yet")
        #expect(listen(stream, 1) == 0)
        #expect(SocketActivation.isListeningStreamSocket(stream))
        #expect(!SocketActivation.isListeningStreamSocket(datagram))
        #expect(!SocketActivation.isListeningStreamSocket(pipeEnds[0]))
        #expect(!SocketActivation.isListeningStreamSocket(-1))
    }
}

@Suite struct WatchdogEnvironmentTests {
    @Test func timeoutForThisProcess() {
        #expect(Watchdog.watchdogMicroseconds(environment: ["WATCHDOG_USEC": "30000000"], processID: 9) == 30_000_000)
        let addressed = ["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "9"]
        #expect(Watchdog.watchdogMicroseconds(environment: addressed, processID: 9) == 2_000_000)
    }

    @Test func noneWhenUnsetMalformedOrForAnotherProcess() {
        for environment in [
            [:], ["WATCHDOG_USEC": "0"], ["WATCHDOG_USEC": "x"], ["WATCHDOG_USEC": "-5"],
            ["WATCHDOG_USEC": "18446744073709551615"], ["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "10"],
            ["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "nine"],
        ] {
            #expect(Watchdog.watchdogMicroseconds(environment: environment, processID: 9) == nil, "\(environment)")
        }
    }
}

/// Decodes an entry of the journal's native protocol, the way journald reads it.
enum NativeEntry {
    struct Malformed: Error {}

    static func parse(_ bytes: [UInt8]) throws -> [JournalField] {
        var fields: [JournalField] = []
        var index = 0
        while index < bytes.count {
            guard let lineEnd = bytes[index...].firstIndex(of: UInt8(ascii: "\n")) else { throw Malformed() }
            let line = bytes[index..<lineEnd]
            if let equals = line.firstIndex(of: UInt8(ascii: "=")) {
                fields.append(
                    JournalField(
                        String(decoding: line[..<equals], as: UTF8.self),
                        String(decoding: line[(equals + 1)...], as: UTF8.self)))
                index = lineEnd + 1
                continue
            }
            let lengthStart = lineEnd + 1
            guard lengthStart + 8 <= bytes.count else { throw Malformed() }
            let length = bytes[lengthStart..<lengthStart + 8].reversed().reduce(0) { $0 << 8 | Int($1) }
            let valueStart = lengthStart + 8
            guard valueStart + length < bytes.count, bytes[valueStart + length] == UInt8(ascii: "\n") else {
                throw Malformed()
            }
            fields.append(
                JournalField(
                    String(decoding: line, as: UTF8.self),
                    String(decoding: bytes[valueStart..<valueStart + length], as: UTF8.self)))
            index = valueStart + length + 1
        }
        return fields
    }
}

/// A datagram socket bound to a fresh name (a path, or one in the abstract namespace), that waits at most
/// five seconds for each datagram and takes the descriptors passed with it.
final class DatagramReceiver {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let name: String
    private let descriptor: Int32

    init(abstract: Bool = false) throws {
        let unique = "fibd-test-\(getpid())-\(UUID().uuidString.prefix(8))"
        name = abstract ? "@\(unique)" : "/tmp/\(unique).sock"
        descriptor = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw Failure(description: "socket: \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(name.utf8)
        if abstract { pathBytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes) }
        let length = socklen_t(2 + pathBytes.count + (abstract ? 0 : 1))
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
        }
        guard bound == 0 else { throw Failure(description: "bind \(name): \(errno)") }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(descriptor)
        if !name.hasPrefix("@") { unlink(name) }
    }

    /// Whether no datagram is waiting.
    var isEmpty: Bool {
        var byte: UInt8 = 0
        return recv(descriptor, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK)) < 0
    }

    func receive() throws -> (bytes: [UInt8], descriptors: [Int32]) {
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        var control = [UInt8](repeating: 0, count: 256)
        let (received, flags, descriptors) = buffer.withUnsafeMutableBytes { bufferBytes in
            control.withUnsafeMutableBytes { controlBytes in
                var vector = iovec(iov_base: bufferBytes.baseAddress, iov_len: bufferBytes.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    var message = msghdr()
                    message.msg_iov = vectorPointer
                    message.msg_iovlen = 1
                    message.msg_control = controlBytes.baseAddress
                    message.msg_controllen = controlBytes.count
                    let received = recvmsg(descriptor, &message, Int32(MSG_CMSG_CLOEXEC))
                    var descriptors: [Int32] = []
                    let headerSize = MemoryLayout<cmsghdr>.size
                    if received >= 0, message.msg_controllen >= headerSize {
                        let header = controlBytes.load(as: cmsghdr.self)
                        if header.cmsg_level == SOL_SOCKET, header.cmsg_type == Int32(SCM_RIGHTS) {
                            let count = (header.cmsg_len - headerSize) / MemoryLayout<Int32>.size
                            descriptors = (0..<count).map {
                                controlBytes.load(fromByteOffset: headerSize + $0 * 4, as: Int32.self)
                            }
                        }
                    }
                    return (received, message.msg_flags, descriptors)
                }
            }
        }
        guard received >= 0 else { throw Failure(description: "no datagram within 5 s: errno \(errno)") }
        guard flags & Int32(MSG_TRUNC) == 0 else { throw Failure(description: "datagram truncated") }
        return (Array(buffer[..<received]), descriptors)
    }
}
