/// Why a Fibonacci number could not be computed.
public enum FibonacciError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `recursive` works on machine words: F(n) for n > 93 does not fit in UInt64.
    case recursiveOutOfRange(n: UInt64)

    public var description: String {
        switch self {
        case .recursiveOutOfRange(let n):
            return
                "recursive handles n <= \(Fibonacci.maxRecursiveN) (F(n) must fit in 64 bits), not \(n)"
        }
    }
}

/// The Fibonacci numbers F(0) = 0, F(1) = 1, F(n) = F(n-1) + F(n-2).
public enum Fibonacci {
    /// The largest n whose F(n) fits in a UInt64.
    public static let maxRecursiveN: UInt64 = 93

    /// The largest n for which ``fastDoubling(_:)`` can work: GMP numbers are limited to 2^31 limbs
    /// (2^37 bits) and F(n) has about 0.694 n bits. Beyond it GMP aborts the process ("overflow in mpz
    /// type"), as it does when memory runs out, so a caller that must survive checks n against this first.
    public static let maxFastN: UInt64 = 197_000_000_000

    /// The seed's exponential recursion. Deliberately slow: it is a CPU load, so it must stay neither
    /// memoised nor turned into a loop (2 F(n+1) - 1 calls, about 1 ns each).
    /// Precondition: n <= maxRecursiveN (beyond that the sum wraps).
    public static func recursive(_ n: UInt64) -> UInt64 {
        n < 2 ? n : recursive(n - 1) &+ recursive(n - 2)
    }

    /// F(n) in decimal ASCII digits, computed with `algorithm`.
    public static func decimal(_ n: UInt64, algorithm: Algorithm) throws(FibonacciError) -> [UInt8] {
        switch algorithm {
        case .fast:
            return fastDoubling(n).decimalDigits()
        case .recursive:
            guard n <= maxRecursiveN else { throw .recursiveOutOfRange(n: n) }
            return Array(String(recursive(n)).utf8)
        }
    }

    /// log10 of the golden ratio.
    private static let log10Phi = 0.20898764024997873
    /// log10 of the square root of 5.
    private static let log10Sqrt5 = 0.3494850021680094

    /// The number of decimal digits of F(n), from F(n) = round(phi^n / sqrt 5).
    ///
    /// Exact for n < 2 and, in practice, for every n a daemon computes; for very large n the Double
    /// rounding may make it one off, so use it to size buffers, not to promise a length.
    public static func approximateDigitCount(_ n: UInt64) -> Int {
        if n < 2 { return 1 }
        return Int((Double(n) * log10Phi - log10Sqrt5).rounded(.down)) + 1
    }

    /// The number of bits of F(n), or one more (never fewer), for reserving GMP storage.
    static func bitCountUpperBound(_ n: UInt64) -> UInt64 {
        // log2(phi) = 0.6942419136306174; the margin covers the Double rounding of the product.
        UInt64((Double(n) * 0.6942419136306174).rounded(.up)) + 64
    }
}
