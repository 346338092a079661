import FibSystemd
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

@Suite struct NotifyMessageTests {
    @Test func eachMessageIsItsAssignments() {
        #expect(NotifyMessage.ready.assignments == ["READY=1"])
        #expect(NotifyMessage.stopping.assignments == ["STOPPING=1"])
        #expect(NotifyMessage.watchdog.assignments == ["WATCHDOG=1"])
        #expect(NotifyMessage.errno(98).assignments == ["ERRNO=98"])
        #expect(
            NotifyMessage.reloading(monotonicMicroseconds: 123_456).assignments == [
                "RELOADING=1", "MONOTONIC_USEC=123456",
            ])
    }

    @Test func severalMessagesShareOneDatagramOneLineEach() {
        let datagram = NotifyMessage.datagram([.ready, .status("2 workers, 0 running, 0 queued, 0 done")])
        #expect(datagram == "READY=1\nSTATUS=2 workers, 0 running, 0 queued, 0 done")
    }

    @Test func aStatusCannotInjectAnAssignment() {
        let datagram = NotifyMessage.datagram([.status("bad\nREADY=1\r")])
        #expect(datagram == "STATUS=bad READY=1 ")
        #expect(!datagram.contains("\n"))
    }

    @Test func poolStatusText() {
        #expect(
            PoolStatus(workers: 2, running: 1, queued: 3, done: 120).text == "2 workers, 1 running, 3 queued, 120 done")
        #expect(PoolStatus(workers: 1, running: 0, queued: 0, done: 0).text == "1 worker, 0 running, 0 queued, 0 done")
    }

    @Test func monotonicMicrosecondsMatchesTheSystemClock() {
        let before = DispatchTime.now().uptimeNanoseconds / 1000
        let reading = monotonicMicroseconds()
        let after = DispatchTime.now().uptimeNanoseconds / 1000
        #expect(reading + 1 >= before && reading <= after + 1)
    }

    @Test func noNotifySocketMeansNoSend() {
        let notifier = ServiceNotifier(environment: [:])
        #expect(!notifier.isEnabled)
        #expect(!notifier.send(.ready))
        #expect(!ServiceNotifier(environment: ["NOTIFY_SOCKET": ""]).isEnabled)
    }
}

@Suite struct WatchdogTests {
    @Test func intervalIsHalfTheTimeout() {
        #expect(Watchdog.interval(watchdogMicroseconds: 2_000_000) == .seconds(1))
        #expect(Watchdog.interval(watchdogMicroseconds: 300_000) == .milliseconds(150))
        #expect(Watchdog.interval(watchdogMicroseconds: 10) == .milliseconds(1))
    }

    /// The heartbeat is a task of the loop: while the loop is blocked, no beat goes out.
    @Test func noBeatWhileTheLoopIsStuck() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let beats = Atomic<Int>(0)
        let watchdog = Watchdog(interval: .milliseconds(10), eventLoop: loop) { beats.add(1, ordering: .relaxed) }
        watchdog.start()
        try await waitFor("first beats", within: .seconds(5)) { beats.load(ordering: .relaxed) >= 3 }

        let blocked = loop.submit {
            let atStart = beats.load(ordering: .relaxed)
            usleep(300_000)
            return beats.load(ordering: .relaxed) - atStart
        }
        let beatsWhileStuck = try await blocked.get()
        #expect(beatsWhileStuck == 0)

        let afterwards = beats.load(ordering: .relaxed)
        try await waitFor("beats again", within: .seconds(5)) { beats.load(ordering: .relaxed) > afterwards + 2 }
        watchdog.stop()
        try await group.shutdownGracefully()
    }

    @Test func noBeatWithoutProgress() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let beats = Atomic<Int>(0)
        let checks = Atomic<Int>(0)
        let watchdog = Watchdog(
            interval: .milliseconds(5), eventLoop: loop,
            isMakingProgress: {
                checks.add(1, ordering: .relaxed)
                return false
            }
        ) { beats.add(1, ordering: .relaxed) }
        watchdog.start()
        try await waitFor("progress checks", within: .seconds(5)) { checks.load(ordering: .relaxed) >= 5 }
        #expect(beats.load(ordering: .relaxed) == 0)
        watchdog.stop()
        try await group.shutdownGracefully()
    }
}

/// Polls a condition every 5 ms until it holds; fails after `within`.
func waitFor(_ what: String, within: Duration, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + within
    while !condition() {
        guard ContinuousClock.now < deadline else {
            Issue.record("timed out waiting for \(what)")
            return
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}
