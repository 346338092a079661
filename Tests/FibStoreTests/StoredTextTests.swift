import FibCore
import FibMath
import Testing

@testable import FibStore

/// The static texts bound for enum columns must read back as the same enum.
@Suite struct StoredTextTests {
    @Test func everyStoredTextIsTheRawValue() {
        for algorithm in Algorithm.allCases { #expect("\(algorithm.storedText)" == algorithm.rawValue) }
        for state in TaskState.allCases { #expect("\(state.storedText)" == state.rawValue) }
    }
}
