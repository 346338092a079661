/// A task's identity: 16 lowercase hex digits of a 64-bit number.
///
/// The numbers increase: the first one of a run is the wall clock in microseconds at
/// start-up, so ids stay unique across restarts without any shared state.
public struct TaskID: Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: UInt64

    public init(rawValue: UInt64) {
        self.rawValue = rawValue
    }

    /// Parses the text form; nil for anything that is not exactly 16 hex digits.
    public init?(_ text: some StringProtocol) {
        // Checked byte by byte: UInt64(_:radix:) would also take a leading "+" or "-".
        guard text.utf8.count == 16, text.utf8.allSatisfy(Self.isHexDigit), let value = UInt64(text, radix: 16)
        else { return nil }
        self.rawValue = value
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"),
            UInt8(ascii: "A")...UInt8(ascii: "F"):
            return true
        default:
            return false
        }
    }

    public var description: String {
        let hex = String(rawValue, radix: 16)
        return String(repeating: "0", count: 16 - hex.utf8.count) + hex
    }

    public static func < (lhs: TaskID, rhs: TaskID) -> Bool { lhs.rawValue < rhs.rawValue }

    /// What Set and Dictionary hash: a task passes through a dozen of them on its way, so this mixes the
    /// number inline instead of running a Hasher (out of line in the standard library) each time. Ids are the
    /// daemon's own, never chosen by a client, so a fast mix needs no defence against crafted collisions.
    @inlinable
    public func _rawHashValue(seed: Int) -> Int {
        mixedHash(rawValue, seed: seed)
    }
}

/// SplitMix64's finalizer over `value` and a table's `seed`: every bit of the input moves the low bits a table
/// indexes by.
@inlinable @inline(__always)
func mixedHash(_ value: UInt64, seed: Int) -> Int {
    var bits = value ^ UInt64(bitPattern: Int64(seed))
    bits = (bits ^ (bits >> 30)) &* 0xbf58_476d_1ce4_e5b9
    bits = (bits ^ (bits >> 27)) &* 0x94d0_49bb_1331_11eb
    return Int(truncatingIfNeeded: bits ^ (bits >> 31))
}
