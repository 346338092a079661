import FibCore
import FibMath
import FibWorkers
import Foundation
import Testing

/// F(1000), from Python's integers.
private let f1000Prefix =
    "43466557686937456435688527675040625802564660517371780402481729089536555417949051890403879840079255169295922593080322634775209689623239873322471161642996440906533187938298969649928516003704476137795166849228875"

/// A job long enough to be caught mid-way (about 0.1 s in a release build, 2 s in a debug one).
private let longJob: (n: UInt64, digits: String) = (38, "39088169")

@Suite("Worker pool, with real processes", .serialized)
struct WorkerPoolTests {
    @Test func twoWorkersStartWithDistinctPidsAndAnswer() async throws {
        let harness = try await PoolHarness(count: 2)
        var pids: [WorkerID: Int32] = [:]
        for _ in 0..<2 {
            let (id, pid) = try await harness.events.expectReady()
            pids[id] = pid
        }
        #expect(Set(pids.keys) == [0, 1])
        #expect(Set(pids.values).count == 2)
        #expect(!pids.values.contains(getpid()))

        try await harness.run(Job(id: 1, n: 20, algorithm: .recursive), on: 0)
        try await harness.run(Job(id: 2, n: 1000, algorithm: .fast), on: 1)
        let (first, recursive) = try await harness.events.expectFinished(job: 1)
        let (second, fast) = try await harness.events.expectFinished(job: 2)
        #expect(first == 0)
        #expect(second == 1)
        #expect(recursive.digits == "6765")
        #expect(fast.digits?.count == 209)
        #expect(fast.digits?.hasPrefix(f1000Prefix) == true)

        // Both answer again, swapped.
        try await harness.run(Job(id: 3, n: 25, algorithm: .recursive), on: 0)
        try await harness.run(Job(id: 4, n: 93, algorithm: .fast), on: 1)
        #expect(try await harness.events.expectFinished(job: 3).1.digits == "75025")
        #expect(try await harness.events.expectFinished(job: 4).1.digits == "12200160415121876738")

        let snapshot = try await harness.snapshot()
        #expect(snapshot.map(\.id) == [0, 1])
        for info in snapshot {
            #expect(info.pid == pids[info.id])
            #expect(info.state == .idle)
            #expect(info.jobID == nil)
            #expect(info.restarts == 0)
            #expect(info.bytesReceived > 9 + 29)
            #expect((info.residentBytes ?? 0) > 0)
            #expect(info.cpuSeconds != nil)
            let spawnedAt = try #require(info.spawnedAtNanos)
            #expect(spawnedAt <= DispatchTime.now().uptimeNanoseconds)
        }
        try await harness.close()
        for pid in pids.values {
            #expect(processIsGone(pid))
        }
    }

    @Test func severalJobsSentAtOnceAreAnsweredInOrder() async throws {
        let harness = try await PoolHarness(count: 1)
        _ = try await harness.events.expectReady(0)
        // Sent in one loop turn, so they reach the worker in one write and come back together.
        let jobs =
            (0..<40).map { Job(id: 100 + UInt64($0), n: UInt64($0) * 25, algorithm: .fast) }
            + [Job(id: 200, n: 94, algorithm: .recursive), Job(id: 201, n: 20, algorithm: .recursive)]
        // Read in the same loop turn as the starts: the worker may answer the first jobs before a later turn.
        let shown = try await harness.onLoop { pool in
            for job in jobs { pool.start(job, on: 0) }
            return pool.snapshot().first?.jobID
        }
        #expect(shown == 100, "the slot shows the oldest job")
        var answered: [UInt64] = []
        for _ in jobs {
            let (slot, job, outcome): (WorkerID, UInt64, JobOutcome) = try await harness.events.expect("an answer") {
                event in
                guard case .finished(let slot, let job, let outcome) = event else { return nil }
                return (slot, job, outcome)
            }
            #expect(slot == 0)
            answered.append(job)
            if let sent = jobs.first(where: { $0.id == job }), sent.id < 200 {
                let expected: [UInt8] = try Fibonacci.decimal(sent.n, algorithm: .fast)
                let text = String(decoding: expected, as: UTF8.self)
                #expect(outcome.digits == text, "F(\(sent.n))")
            }
        }
        #expect(answered == jobs.map(\.id))
        #expect(try await harness.snapshot().first?.state == .idle)
        // More jobs on the same worker: it is ready for the next burst.
        try await harness.onLoop { pool in
            pool.start(Job(id: 300, n: 10, algorithm: .fast), on: 0)
            pool.start(Job(id: 301, n: 11, algorithm: .fast), on: 0)
        }
        #expect(try await harness.events.expectFinished(job: 300).1.digits == "55")
        #expect(try await harness.events.expectFinished(job: 301).1.digits == "89")
        try await harness.close()
    }

    @Test func anIdleWorkerIsNotWokenWhenThePoolReadsItsAnswer() async throws {
        let harness = try await PoolHarness(count: 1)
        let (_, pid) = try await harness.events.expectReady(0)
        func sleeps() throws -> Int {
            let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
            let line = status.split(separator: "\n").first { $0.hasPrefix("voluntary_ctxt_switches:") }
            return Int(line?.split(separator: "\t").last.map(String.init) ?? "") ?? -1
        }
        let jobs = 200
        let before = try sleeps()
        for index in 0..<jobs {
            try await harness.run(Job(id: 1 + UInt64(index), n: 1, algorithm: .fast), on: 0)
            _ = try await harness.events.expectFinished(job: 1 + UInt64(index))
        }
        let switches = try sleeps() - before
        // One sleep per job, waiting for the next one. Asleep in read(2), the worker was woken a second time
        // whenever the pool read its answer (two per job); asleep in poll for input, it is not.
        #expect(before >= 0 && switches < jobs * 3 / 2, "\(switches) sleeps for \(jobs) jobs")
        try await harness.close()
    }

    @Test func aLeavingBusyWorkerAnswersAJobSentBeforeTheSchedulerKnewThenGoes() async throws {
        let harness = try await PoolHarness(count: 2)
        var pids: [WorkerID: Int32] = [:]
        for _ in 0..<2 {
            let (id, pid) = try await harness.events.expectReady()
            pids[id] = pid
        }
        try await harness.run(Job(id: 500, n: longJob.n, algorithm: .recursive), on: 0)
        try await harness.run(Job(id: 501, n: longJob.n, algorithm: .recursive), on: 1)
        #expect(try await harness.onLoop { $0.resize(to: 1) } == [1])
        try await harness.run(Job(id: 502, n: 12, algorithm: .fast), on: 1)
        #expect(try await harness.events.expectFinished(job: 501).0 == 1)
        #expect(try await harness.events.expectFinished(job: 502).1.digits == "144")
        let (left, exit) = try await harness.events.expectExited(pid: try #require(pids[1]))
        #expect(left == 1)
        #expect(exit == .exited(code: 0))
        _ = try await harness.events.expectFinished(job: 500)
        try await harness.close()
    }

    @Test func killingAWorkerWithSeveralJobsDropsThemAll() async throws {
        let harness = try await PoolHarness(count: 1)
        let (_, pid) = try await harness.events.expectReady(0)
        try await harness.onLoop { pool in
            pool.start(Job(id: 400, n: longJob.n, algorithm: .recursive), on: 0)
            pool.start(Job(id: 401, n: 5, algorithm: .fast), on: 0)
        }
        try await awaitComputing(pid)
        try await harness.onLoop { $0.kill(0) }
        let (_, exit) = try await harness.events.expectExited(pid: pid)
        #expect(exit == .signaled(signal: SIGKILL))
        _ = try await harness.events.expectReady(0)
        #expect(try await harness.snapshot().first?.jobID == nil)
        #expect(
            !harness.events.pending().contains { event in
                if case .finished = event { return true }
                return false
            }, "no answer from the killed process")
        try await harness.close()
    }

    @Test func recursiveBeyondMachineWordsIsAFailureAnswer() async throws {
        let harness = try await PoolHarness(count: 1)
        _ = try await harness.events.expectReady(0)
        try await harness.run(Job(id: 5, n: 94, algorithm: .recursive), on: 0)
        let (_, outcome) = try await harness.events.expectFinished(job: 5)
        #expect(outcome.failureMessage == FibonacciError.recursiveOutOfRange(n: 94).description)
        // The worker is still there and idle.
        try await harness.run(Job(id: 6, n: 10, algorithm: .recursive), on: 0)
        #expect(try await harness.events.expectFinished(job: 6).1.digits == "55")
        try await harness.close()
    }

    @Test func externalSigkillMidJobIsReportedAndTheSlotComesBack() async throws {
        let harness = try await PoolHarness(count: 1)
        let (_, pid) = try await harness.events.expectReady(0)
        try await harness.run(Job(id: 10, n: longJob.n, algorithm: .recursive), on: 0)
        try await awaitComputing(pid)
        let busy = try await harness.snapshot()
        #expect(busy.first?.state == .busy)
        #expect(busy.first?.jobID == 10)

        #expect(Glibc.kill(pid, SIGKILL) == 0)
        let (slot, exit) = try await harness.events.expectExited(pid: pid)
        #expect(slot == 0)
        #expect(exit == .signaled(signal: SIGKILL))
        #expect(processIsGone(pid), "the killed worker was reaped")

        let (_, newPID) = try await harness.events.expectReady(0)
        #expect(newPID != pid)
        try await harness.run(Job(id: 11, n: longJob.n, algorithm: .recursive), on: 0)
        #expect(try await harness.events.expectFinished(job: 11).1.digits == longJob.digits)

        let after = try await harness.snapshot()
        #expect(after.first?.restarts == 1)
        #expect(after.first?.pid == newPID)
        #expect(
            !harness.events.pending().contains { event in
                if case .finished(_, 10, _) = event { return true }
                return false
            },
            "the killed job never finishes"
        )
        try await harness.close()
    }

    @Test func poolKillEndsAHopelessJobAndRespawnsAtOnce() async throws {
        let harness = try await PoolHarness(count: 1)
        let (_, pid) = try await harness.events.expectReady(0)
        // F(90) by recursion would take centuries.
        try await harness.run(Job(id: 20, n: 90, algorithm: .recursive), on: 0)
        try await awaitComputing(pid)

        try await harness.onLoop { $0.kill(0) }
        let (slot, exit) = try await harness.events.expectExited(pid: pid)
        #expect(slot == 0)
        #expect(exit == .signaled(signal: SIGKILL))
        #expect(processIsGone(pid))

        let (_, newPID) = try await harness.events.expectReady(0, timeout: .seconds(10))
        #expect(newPID != pid)
        let snapshot = try await harness.snapshot()
        #expect(snapshot.first?.state == .idle)
        #expect(snapshot.first?.restarts == 1)
        try await harness.run(Job(id: 21, n: 12, algorithm: .recursive), on: 0)
        #expect(try await harness.events.expectFinished(job: 21).1.digits == "144")
        try await harness.close()
    }

    @Test func workersGetACleanEnvironmentAndOnlyTheirChannel() async throws {
        setenv("NOTIFY_SOCKET", "/run/fibd-test/notify", 1)
        setenv("LISTEN_FDS", "1", 1)
        setenv("WATCHDOG_USEC", "1000000", 1)
        setenv("FIBD_TEST_KEPT", "yes", 1)
        // Neither close-on-exec nor the child's: closefrom must keep it out of the worker.
        let stray = open("/dev/null", O_RDONLY)
        defer { close(stray) }
        let harness: PoolHarness
        do {
            defer {
                for name in ["NOTIFY_SOCKET", "LISTEN_FDS", "WATCHDOG_USEC", "FIBD_TEST_KEPT"] { unsetenv(name) }
            }
            harness = try await PoolHarness(count: 1)
        }
        let (_, pid) = try await harness.events.expectReady(0)

        let environment = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))
            .split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        #expect(!environment.contains { $0.hasPrefix("NOTIFY_SOCKET=") })
        #expect(!environment.contains { $0.hasPrefix("LISTEN_") || $0.hasPrefix("WATCHDOG_") })
        #expect(environment.contains("FIBD_TEST_KEPT=yes"))
        #expect(environment.contains("\(WorkerMain.parentPIDVariable)=\(getpid())"))

        let descriptors = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").compactMap { Int($0) }
        #expect(Set(descriptors).isSubset(of: [0, 1, 2, 3]), "worker descriptors: \(descriptors.sorted())")
        #expect(descriptors.contains(3))
        let channel = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/3")
        #expect(channel.hasPrefix("socket:"))

        // No blocked or ignored standard signal (the daemon ignores SIGPIPE; the worker must not
        // inherit that). glibc keeps its internal real-time signals 32 and 33 to itself.
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        for field in ["SigBlk:", "SigIgn:"] {
            let line = status.split(separator: "\n").first { $0.hasPrefix(field) }
            let mask = line?.split(separator: "\t").last.flatMap { UInt64($0, radix: 16) }
            #expect(mask.map { $0 & 0x7fff_ffff } == 0, "\(line ?? "no \(field)")")
        }
        // argv is [fibd, worker].
        let arguments = try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))
            .split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        #expect(arguments.last == "worker")
        #expect(arguments.count == 2)
        try await harness.close()
    }

    @Test func shrinkingLetsIdleWorkersGoAtOnceAndBusyOnesAfterTheirJob() async throws {
        let harness = try await PoolHarness(count: 3)
        var pids: [WorkerID: Int32] = [:]
        for _ in 0..<3 {
            let (id, pid) = try await harness.events.expectReady()
            pids[id] = pid
        }
        try await harness.run(Job(id: 30, n: longJob.n, algorithm: .recursive), on: 1)
        let leaving = try await harness.onLoop { $0.resize(to: 1) }
        // Idle slots leave first: 2 and 0; the busy slot 1 stays.
        #expect(Set(leaving) == [0, 2])
        for id in [0, 2] {
            let (slot, exit) = try await harness.events.expectExited(pid: try #require(pids[id]))
            #expect(slot == id)
            #expect(exit == .exited(code: 0), "an idle worker leaves cleanly at EOF")
        }
        #expect(try await harness.snapshot().map(\.id) == [1])
        #expect(try await harness.onLoop { $0.count } == 1)

        #expect(try await harness.events.expectFinished(job: 30).1.digits == longJob.digits)

        // Slots that must leave while busy finish their job first, then go.
        try await harness.onLoop { _ = $0.resize(to: 2) }
        let (grown, grownPID) = try await harness.events.expectReady()
        #expect(grown == 3, "new slots get new ids")
        try await harness.run(Job(id: 32, n: 34, algorithm: .recursive), on: 1)
        try await harness.run(Job(id: 33, n: 34, algorithm: .recursive), on: 3)
        #expect(try await harness.onLoop { $0.resize(to: 1) } == [3])
        let (finishedOn, outcome) = try await harness.events.expectFinished(job: 33)
        #expect(finishedOn == 3)
        #expect(outcome.digits == "5702887")
        let (left, exit) = try await harness.events.expectExited(pid: grownPID)
        #expect(left == 3)
        #expect(exit == .exited(code: 0))
        #expect(try await harness.events.expectFinished(job: 32).0 == 1)
        #expect(try await harness.snapshot().map(\.id) == [1])
        #expect(
            !harness.events.pending().contains { event in
                if case .ready(3, _) = event { return true }
                return false
            },
            "a slot that left is never ready again"
        )
        try await harness.close()
    }

    @Test func shutdownKillsAndReapsEveryWorker() async throws {
        let harness = try await PoolHarness(count: 2)
        var pids: [Int32] = []
        for _ in 0..<2 { pids.append(try await harness.events.expectReady().1) }
        try await harness.run(Job(id: 40, n: 90, algorithm: .recursive), on: 0)
        try await harness.close()
        for pid in pids {
            let (_, exit) = try await harness.events.expectExited(pid: pid, timeout: .seconds(1))
            #expect(exit == .signaled(signal: SIGKILL))
            #expect(processIsGone(pid))
        }
    }

    @Test func aWorkerThatDiesUnaskedIsRespawnedWithBackoff() async throws {
        let script = try makeScript("exit 3")
        defer { try? FileManager.default.removeItem(atPath: script) }
        let harness = try await PoolHarness(count: 1, executable: script)
        var times: [ContinuousClock.Instant] = []
        for _ in 0..<3 {
            let exit = try await harness.events.expect("an exit") { event -> WorkerExit? in
                guard case .exited(0, _, let exit) = event else { return nil }
                return exit
            }
            times.append(.now)
            #expect(exit == .exited(code: 3))
        }
        // 100 ms, then 200 ms between deaths (some slack for the clock of this test).
        #expect(times[1] - times[0] >= .milliseconds(90))
        #expect(times[2] - times[1] >= .milliseconds(190))
        #expect(try await harness.snapshot().first?.restarts ?? 0 >= 2)
        try await harness.close()
    }

    @Test func aWorkerThatLivedLongerThanTheBackoffIsReplacedAtOnce() async throws {
        // Says hello, lives 0.3 s (longer than the first backoff, 100 ms), dies: replaced at once each time, so
        // deaths come about 0.3 s apart; with backoff they would be 0.4 s, then 0.5 s apart.
        let hello = "printf '\\000\\000\\000\\005\\002\\000\\000\\000\\001' >&3\n"
        let script = try makeScript(hello + "sleep 0.3\nexit 3")
        defer { try? FileManager.default.removeItem(atPath: script) }
        let harness = try await PoolHarness(count: 1, executable: script)
        var times: [ContinuousClock.Instant] = []
        for _ in 0..<3 {
            _ = try await harness.events.expect("an exit") { event -> WorkerExit? in
                guard case .exited(0, _, let exit) = event else { return nil }
                return exit
            }
            times.append(.now)
        }
        #expect(times[1] - times[0] < .milliseconds(390))
        #expect(times[2] - times[1] < .milliseconds(390))
        try await harness.close()

        // Says hello and dies at once: that is a crash loop, and it backs off.
        let quick = try makeScript(hello + "exit 3")
        defer { try? FileManager.default.removeItem(atPath: quick) }
        let looping = try await PoolHarness(count: 1, executable: quick)
        times = []
        for _ in 0..<2 {
            _ = try await looping.events.expect("an exit") { event -> WorkerExit? in
                guard case .exited(0, _, let exit) = event else { return nil }
                return exit
            }
            times.append(.now)
        }
        #expect(times[1] - times[0] >= .milliseconds(90))
        try await looping.close()
    }

    @Test func aWorkerBreakingTheProtocolIsKilled() async throws {
        // "XXXX" announces a frame of 0x58585858 bytes: over the limit.
        let garbage = try makeScript("printf 'XXXXXXXX' >&3\nexec sleep 60")
        defer { try? FileManager.default.removeItem(atPath: garbage) }
        let harness = try await PoolHarness(count: 1, executable: garbage)
        let exit = try await harness.events.expect("an exit") { event -> WorkerExit? in
            guard case .exited(0, _, let exit) = event else { return nil }
            return exit
        }
        #expect(exit == .signaled(signal: SIGKILL))
        try await harness.close()

        // A hello, then an answer to a job it was never given.
        let stray = try makeScript(
            "printf '\\000\\000\\000\\005\\002\\000\\000\\000\\001' >&3\n"
                + "printf '\\000\\000\\000\\031\\003' >&3\n"
                + "head -c 24 /dev/zero >&3\nexec sleep 60"
        )
        defer { try? FileManager.default.removeItem(atPath: stray) }
        let second = try await PoolHarness(count: 1, executable: stray)
        let (_, pid) = try await second.events.expectReady(0)
        let (_, strayExit) = try await second.events.expectExited(pid: pid)
        #expect(strayExit == .signaled(signal: SIGKILL))
        try await second.close()
    }
}

extension WorkerPoolTests {
    @Test func aWorkerThatClosesItsChannelButLivesOnIsKilledAndReaped() async throws {
        // Says hello, closes fd 3, and sleeps: the channel ends but no exit status comes.
        let script = try makeScript(
            "printf '\\000\\000\\000\\005\\002\\000\\000\\000\\001' >&3\nexec 3>&-\nexec sleep 60"
        )
        defer { try? FileManager.default.removeItem(atPath: script) }
        let harness = try await PoolHarness(count: 1, executable: script)
        let (_, pid) = try await harness.events.expectReady(0)
        let (_, exit) = try await harness.events.expectExited(pid: pid, timeout: .seconds(20))
        #expect(exit == .signaled(signal: SIGKILL))
        #expect(processIsGone(pid))
        try await harness.close()
    }
}

/// An executable shell script (in a fresh temporary file) with `body` after the #! line.
private func makeScript(_ body: String) throws -> String {
    let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("fibd-worker-\(UUID().uuidString).sh").path
    try "#!/bin/sh\n\(body)\n".write(toFile: path, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path)
    return path
}
