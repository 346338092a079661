import Foundation
import Testing

@testable import FibWorkers

@Suite("CPU discovery, /proc parsing, worker environment")
struct SystemParsingTests {
    @Test func procCgroupV2() {
        let paths = CPUDiscovery.parseProcCgroup("0::/system.slice/fibd.service\n")
        #expect(paths.unified == "/system.slice/fibd.service")
        #expect(paths.cpuV1 == nil)
    }

    @Test func procCgroupV1AndHybrid() {
        let text = """
            12:pids:/system.slice/fibd.service
            4:cpu,cpuacct:/system.slice/fibd.service
            1:name=systemd:/system.slice/fibd.service
            0::/system.slice/fibd.service
            """
        let paths = CPUDiscovery.parseProcCgroup(text)
        #expect(paths.unified == "/system.slice/fibd.service")
        #expect(paths.cpuV1?.controllers == "cpu,cpuacct")
        #expect(paths.cpuV1?.path == "/system.slice/fibd.service")
        // "cpuacct" or "cpuset" alone is not the cpu controller.
        let other = CPUDiscovery.parseProcCgroup("3:cpuset:/\n2:cpuacct:/\n1:cpu:/a\n")
        #expect(other.cpuV1?.controllers == "cpu")
        #expect(other.cpuV1?.path == "/a")
    }

    @Test func cgroupV2CPUMax() {
        #expect(CPUDiscovery.parseCgroupV2CPUMax("max 100000\n") == nil)
        #expect(CPUDiscovery.parseCgroupV2CPUMax("200000 100000\n") == 2)
        #expect(CPUDiscovery.parseCgroupV2CPUMax("150000 100000") == 2)  // 1.5 CPUs round up
        #expect(CPUDiscovery.parseCgroupV2CPUMax("10000 100000\n") == 1)  // at least one
        #expect(CPUDiscovery.parseCgroupV2CPUMax("garbage") == nil)
        #expect(CPUDiscovery.parseCgroupV2CPUMax("") == nil)
    }

    @Test func cgroupV1Quota() {
        #expect(CPUDiscovery.parseCgroupV1Quota(quota: "-1\n", period: "100000\n") == nil)
        #expect(CPUDiscovery.parseCgroupV1Quota(quota: "300000\n", period: "100000\n") == 3)
        #expect(CPUDiscovery.parseCgroupV1Quota(quota: "250000", period: "100000") == 3)
        #expect(CPUDiscovery.parseCgroupV1Quota(quota: "50000", period: "0") == nil)
    }

    @Test func cgroupAncestors() {
        #expect(CPUDiscovery.ancestors(of: "/a/b") == ["/a/b", "/a", ""])
        #expect(CPUDiscovery.ancestors(of: "/") == [""])
    }

    @Test func usableCPUCountIsWithinTheMachine() {
        let count = usableCPUCount()
        #expect(count >= 1)
        #expect(count <= ProcessInfo.processInfo.processorCount)
        #expect(count <= ProcessInfo.processInfo.activeProcessorCount)
    }

    @Test func procStatWithAnAwkwardName() {
        // A command name may hold spaces and ')'.
        let stat = "1234 (we ird) (x) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 100 4096 300"
        #expect(ProcessSample.parseStatCPUTicks(stat) == 300)
        #expect(ProcessSample.parseStatState(stat) == "S")
        #expect(ProcessSample.parseStatCPUTicks("garbage") == nil)
        #expect(ProcessSample.parseStatmResidentPages("2048 1536 300 10 0 500 0\n") == 1536)
        #expect(ProcessSample.parseStatmResidentPages("") == nil)
    }

    @Test func sampleOfThisProcess() throws {
        let sample = try #require(ProcessSample.read(pid: getpid()))
        #expect(sample.residentBytes > 1 << 20)
        #expect(sample.cpuSeconds >= 0)
        #expect(ProcessSample.read(pid: -5) == nil)
    }

    @Test func workerEnvironmentDropsWhatSystemdMeantForTheDaemon() {
        let parent = [
            "PATH=/usr/bin", "NOTIFY_SOCKET=/run/systemd/notify", "LISTEN_PID=12", "LISTEN_FDS=1",
            "LISTEN_FDNAMES=http", "WATCHDOG_USEC=30000000", "WATCHDOG_PID=12", "FIBD_PARENT_PID=1",
            "LANG=C.UTF-8", "NOTIFY_SOCKETS_ARE_FINE=1", "EMPTY=",
        ]
        #expect(
            WorkerSpawner.workerEnvironment(from: parent) == [
                "PATH=/usr/bin", "LANG=C.UTF-8", "NOTIFY_SOCKETS_ARE_FINE=1", "EMPTY=",
            ]
        )
    }
}
