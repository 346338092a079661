import CGMP

/// A natural number backed by a GMP `mpz_t`, freed when the object goes.
///
/// The `mpz_t` lives in its own heap allocation so that its address is stable: GMP calls can take the same
/// number as input and output (`x = x * x`) without Swift's exclusive-access rules getting in the way.
///
/// Values handed out by ``Fibonacci`` are never changed afterwards (every mutating operation is internal and
/// used only while a result is being built), which is why a finished number may cross concurrency domains.
public final class BigNatural: @unchecked Sendable {
    /// The GMP integer, initialised in `init` and cleared in `deinit`.
    let mpz: UnsafeMutablePointer<__mpz_struct>

    /// A number equal to `value`.
    public init(_ value: UInt64 = 0) {
        mpz = UnsafeMutablePointer<__mpz_struct>.allocate(capacity: 1)
        __gmpz_init_set_ui(mpz, UInt(value))
    }

    /// Zero, with room for `bits` bits reserved up front so that growing to that size costs no reallocation.
    init(reservingBits bits: UInt64) {
        mpz = UnsafeMutablePointer<__mpz_struct>.allocate(capacity: 1)
        __gmpz_init2(mpz, mp_bitcnt_t(bits))
    }

    deinit {
        __gmpz_clear(mpz)
        mpz.deallocate()
    }

    /// Whether the number is zero.
    public var isZero: Bool { mpz.pointee._mp_size == 0 }

    /// The number of significant bits (0 for zero).
    public var bitWidth: Int { isZero ? 0 : Int(__gmpz_sizeinbase(mpz, 2)) }

    /// The number of decimal digits, or one more: GMP's cheap estimate, exact or one too large.
    /// Enough to size a buffer without converting.
    public var decimalDigitCountUpperBound: Int { Int(__gmpz_sizeinbase(mpz, 10)) }

    /// The value as a UInt64, or nil when it does not fit.
    public var uint64Value: UInt64? {
        guard __gmpz_sizeinbase(mpz, 2) <= 64 else { return nil }
        // mpz_get_ui returns the low limb; a limb is 64 bits on every platform fibd builds for.
        return UInt64(__gmpz_get_ui(mpz))
    }

    /// The decimal ASCII digits, most significant first ("0" for zero).
    public func decimalDigits() -> [UInt8] {
        // sizeinbase is exact or one too large; get_str also writes a terminating NUL.
        let upperBound = decimalDigitCountUpperBound
        return [UInt8](unsafeUninitializedCapacity: upperBound + 2) { buffer, initializedCount in
            guard let base = buffer.baseAddress else { return }
            base.withMemoryRebound(to: CChar.self, capacity: upperBound + 2) { characters in
                _ = __gmpz_get_str(characters, 10, mpz)
            }
            initializedCount = buffer[upperBound - 1] == 0 ? upperBound - 1 : upperBound
        }
    }

    /// The decimal digits as a String (for logs and tests; the wire path uses ``decimalDigits()``).
    public var decimalString: String { String(decoding: decimalDigits(), as: UTF8.self) }
}

extension BigNatural: Equatable {
    public static func == (lhs: BigNatural, rhs: BigNatural) -> Bool {
        __gmpz_cmp(lhs.mpz, rhs.mpz) == 0
    }
}

extension BigNatural: CustomStringConvertible {
    public var description: String { decimalString }
}
