// PLACEHOLDER API (to be replaced by the FibMath implementation): signatures are the contract.

/// Why a Fibonacci number could not be computed.
public enum FibonacciError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `recursive` works on machine words: F(n) for n > 93 does not fit in UInt64.
    case recursiveOutOfRange(n: UInt64)

    public var description: String {
        switch self {
        case .recursiveOutOfRange(let n):
            return "recursive handles n <= \(Fibonacci.maxRecursiveN) (F(n) must fit in 64 bits), not \(n)"
        }
    }
}

public enum Fibonacci {
    /// The largest n whose F(n) fits in a UInt64.
    public static let maxRecursiveN: UInt64 = 93

    /// The seed's exponential recursion. Deliberately slow: it is a CPU load.
    /// Precondition: n <= maxRecursiveN.
    public static func recursive(_ n: UInt64) -> UInt64 {
        n < 2 ? n : recursive(n - 1) &+ recursive(n - 2)
    }

    /// F(n) exactly, by fast doubling on GMP integers.
    public static func fastDoubling(_ n: UInt64) -> BigNatural {
        BigNatural()
    }

    /// F(n) in decimal ASCII digits, computed with `algorithm`.
    public static func decimal(_ n: UInt64, algorithm: Algorithm) throws(FibonacciError) -> [UInt8] {
        []
    }
}

/// A natural number backed by a GMP `mpz_t`, freed when the object goes.
public final class BigNatural {
    public init() {}
    /// The decimal ASCII digits, most significant first ("0" for zero).
    public func decimalDigits() -> [UInt8] { [] }
}
