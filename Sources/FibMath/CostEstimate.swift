extension Fibonacci {
    /// A rough estimate of the CPU time a worker spends on F(n) with `algorithm`: computing it and writing
    /// its decimal digits, in nanoseconds, on a vCPU of the kind fibd runs on.
    ///
    /// Good to a factor of two or so, and meant to err high for small n, where it decides whether a job is
    /// cheap enough to queue behind another on a busy worker (the scheduler's pipelining): there, a wrong
    /// "cheap" would let a long job hold up short ones, a wrong "not cheap" only costs a round trip.
    /// Calibrated with GMP on a 2-vCPU machine (fast: F(1000) 1.3 µs, F(4000) 6.4 µs, F(10^4) 20 µs,
    /// F(10^7) 0.15 s; recursive: about 1 ns a call).
    ///
    /// - Returns: the estimate, saturating at `UInt64.max`; a request that the worker refuses at once
    ///   (recursive beyond ``maxRecursiveN``) costs next to nothing.
    public static func estimatedNanos(_ n: UInt64, algorithm: Algorithm) -> UInt64 {
        switch algorithm {
        case .recursive:
            guard n <= maxRecursiveN else { return fixedCostNanos }
            // 2 F(n+1) - 1 calls, about 1 ns each; F(n+1) may exceed UInt64 only for n = 93.
            let calls = n + 1 > maxRecursiveN ? UInt64.max : recursiveCallCount(n)
            return calls.addingSaturating(fixedCostNanos)
        case .fast:
            let digits = Double(approximateDigitCount(n))
            // Small numbers: schoolbook multiplication and decimal conversion, quadratic in the digits.
            // Large ones: GMP's FFT algorithms, about d log d; the two meet at 10^4 digits.
            let nanos: Double
            if digits <= fastQuadraticDigits {
                nanos = Double(fixedCostNanos) + 4 * digits + digits * digits / 200
            } else {
                nanos = fastNanosPerDigitLog * digits * log2(digits)
            }
            return nanos >= 1.8e19 ? UInt64.max : UInt64(nanos)
        }
    }

    /// What any job costs a worker beyond its arithmetic: the answer's allocation and encoding.
    private static let fixedCostNanos: UInt64 = 400
    private static let fastQuadraticDigits = 10_000.0
    /// Makes the d log d branch meet the quadratic one at ``fastQuadraticDigits``.
    private static let fastNanosPerDigitLog =
        (Double(fixedCostNanos) + 4 * fastQuadraticDigits + fastQuadraticDigits * fastQuadraticDigits / 200)
        / (fastQuadraticDigits * log2(fastQuadraticDigits))

    /// 2 F(n+1) - 1, the calls of the seed's recursion for F(n), by iteration. Precondition: n < maxRecursiveN.
    private static func recursiveCallCount(_ n: UInt64) -> UInt64 {
        var (previous, current): (UInt64, UInt64) = (0, 1)
        for _ in 0..<n { (previous, current) = (current, previous &+ current) }
        // current = F(n+1).
        return current.multipliedReportingOverflow(by: 2).overflow ? UInt64.max : 2 * current - 1
    }

    /// log2 without Foundation: the exponent from the bit pattern and a short series for the mantissa.
    private static func log2(_ value: Double) -> Double {
        guard value > 1 else { return 0 }
        let exponent = Double(value.exponent)
        let mantissa = value.significand  // in [1, 2)
        // log2(m) = ln(m) / ln 2, with ln(m) = 2 atanh((m - 1) / (m + 1)), converging fast for m in [1, 2).
        let t = (mantissa - 1) / (mantissa + 1)
        let t2 = t * t
        let series = t * (1 + t2 / 3 + t2 * t2 / 5 + t2 * t2 * t2 / 7 + t2 * t2 * t2 * t2 / 9)
        return exponent + 2 * series / 0.6931471805599453
    }
}

extension UInt64 {
    fileprivate func addingSaturating(_ other: UInt64) -> UInt64 {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? .max : sum
    }
}
