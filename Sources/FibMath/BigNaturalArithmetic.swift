import CGMP

/// The few GMP operations fast doubling needs, as methods so that every operand object stays alive for the
/// whole GMP call (a bare `x.mpz` argument would let Swift release `x` before GMP reads it).
extension BigNatural {
    /// self = lhs * rhs.
    func setProduct(_ lhs: BigNatural, _ rhs: BigNatural) {
        __gmpz_mul(mpz, lhs.mpz, rhs.mpz)
    }

    /// self = lhs + rhs.
    func setSum(_ lhs: BigNatural, _ rhs: BigNatural) {
        __gmpz_add(mpz, lhs.mpz, rhs.mpz)
    }

    /// self = lhs - rhs. Precondition: lhs >= rhs (a BigNatural is never negative).
    func setDifference(_ lhs: BigNatural, _ rhs: BigNatural) {
        __gmpz_sub(mpz, lhs.mpz, rhs.mpz)
    }

    /// self = value * 2^bits.
    func setShiftedLeft(_ value: BigNatural, by bits: UInt) {
        __gmpz_mul_2exp(mpz, value.mpz, mp_bitcnt_t(bits))
    }

    /// self += amount.
    func add(_ amount: UInt) {
        __gmpz_add_ui(mpz, mpz, amount)
    }

    /// self -= amount. Precondition: self >= amount.
    func subtract(_ amount: UInt) {
        __gmpz_sub_ui(mpz, mpz, amount)
    }
}
