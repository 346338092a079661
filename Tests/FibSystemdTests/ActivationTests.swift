import FibSystemd
import Foundation
import Testing

@Suite struct SocketActivationTests {
    @Test func descriptorsStartAtThreeWithTheirNames() {
        let listeners = SocketActivation.listeners(count: 3, names: ["web", "web-v6", "control"])
        #expect(listeners.map(\.descriptor) == [3, 4, 5])
        #expect(listeners.map(\.name) == ["web", "web-v6", "control"])
    }

    @Test func missingOrEmptyNamesAreUnknown() {
        #expect(SocketActivation.listeners(count: 2, names: []).map(\.name) == ["unknown", "unknown"])
        #expect(SocketActivation.listeners(count: 2, names: ["", "b"]).map(\.name) == ["unknown", "b"])
        #expect(SocketActivation.listeners(count: 0, names: ["a"]).isEmpty)
    }
}

@Suite struct LogDestinationTests {
    @Test func journalStreamMatchesDeviceAndInode() {
        #expect(LogDestination.journalStreamMatches("8:12345", device: 8, inode: 12345))
        #expect(!LogDestination.journalStreamMatches("8:12345", device: 8, inode: 12346))
        #expect(!LogDestination.journalStreamMatches("9:12345", device: 8, inode: 12345))
        #expect(!LogDestination.journalStreamMatches("", device: 0, inode: 0))
        #expect(!LogDestination.journalStreamMatches("8", device: 8, inode: 0))
        #expect(!LogDestination.journalStreamMatches("8:1:2", device: 8, inode: 1))
        #expect(!LogDestination.journalStreamMatches("x:1", device: 8, inode: 1))
    }

    /// The test's own stderr, named right, is the journal; named wrong, or not at all, it is not.
    @Test func detectComparesWithTheRealStandardError() {
        var status = stat()
        #expect(fstat(2, &status) == 0)
        let stream = "\(status.st_dev):\(status.st_ino)"
        #expect(LogDestination.detect(environment: ["JOURNAL_STREAM": stream]) == .journal)
        let other = "\(status.st_dev):\(status.st_ino &+ 1)"
        #expect(LogDestination.detect(environment: ["JOURNAL_STREAM": other]) != .journal)
        #expect(LogDestination.detect(environment: [:]) != .journal)
    }
}
