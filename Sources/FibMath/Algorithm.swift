/// How a Fibonacci number is computed.
public enum Algorithm: String, Sendable, CaseIterable, Hashable {
    /// Fast doubling on GMP big integers: exact for any n up to the configured limit.
    case fast
    /// The seed's exponential recursion on machine words: a CPU load for demos and
    /// scheduling benchmarks, exact for n up to ``Fibonacci/maxRecursiveN``.
    case recursive

    /// The algorithm used when a request names none.
    public static let `default`: Algorithm = .fast
}
