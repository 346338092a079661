import CGMP
import FibMath

/// A GMP integer owned by the test, filled from a ``BigNatural``'s decimal digits so that checks do their
/// arithmetic in GMP directly rather than through the code under test.
///
/// Operations are methods taking objects (not raw pointers) so every operand stays alive during the GMP call.
final class GMPInteger: Equatable, CustomStringConvertible {
    private let pointer: UnsafeMutablePointer<__mpz_struct>

    init() {
        pointer = .allocate(capacity: 1)
        __gmpz_init(pointer)
    }

    /// F(n) by GMP's own `mpz_fib_ui`.
    convenience init(fibonacci n: UInt64) {
        self.init()
        __gmpz_fib_ui(pointer, UInt(n))
    }

    convenience init(_ number: BigNatural) {
        self.init()
        let digits = number.decimalDigits() + [0]
        let status = digits.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { __gmpz_set_str(pointer, $0.baseAddress, 10) }
        }
        precondition(status == 0, "not a decimal number: \(number)")
    }

    deinit {
        __gmpz_clear(pointer)
        pointer.deallocate()
    }

    static func * (lhs: GMPInteger, rhs: GMPInteger) -> GMPInteger {
        let result = GMPInteger()
        __gmpz_mul(result.pointer, lhs.pointer, rhs.pointer)
        return result
    }

    static func + (lhs: GMPInteger, rhs: GMPInteger) -> GMPInteger {
        let result = GMPInteger()
        __gmpz_add(result.pointer, lhs.pointer, rhs.pointer)
        return result
    }

    static func - (lhs: GMPInteger, rhs: GMPInteger) -> GMPInteger {
        let result = GMPInteger()
        __gmpz_sub(result.pointer, lhs.pointer, rhs.pointer)
        return result
    }

    static func == (lhs: GMPInteger, rhs: GMPInteger) -> Bool {
        __gmpz_cmp(lhs.pointer, rhs.pointer) == 0
    }

    var description: String {
        let capacity = __gmpz_sizeinbase(pointer, 10) + 2
        let characters = [CChar](unsafeUninitializedCapacity: capacity) { buffer, count in
            _ = __gmpz_get_str(buffer.baseAddress, 10, pointer)
            count = capacity
        }
        return String(
            decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
