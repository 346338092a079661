extension Fibonacci {
    /// F(n) exactly, by fast doubling on GMP integers.
    ///
    /// Walks the bits of n from the top, keeping (F(k-1), F(k)) and doubling k with two squarings:
    ///
    ///     F(2k-1) = F(k)^2 + F(k-1)^2
    ///     F(2k+1) = 4 F(k)^2 - F(k-1)^2 + 2(-1)^k
    ///     F(2k)   = F(2k+1) - F(2k-1)
    ///
    /// The last step needs F(n) alone, so it takes one multiplication instead of two squarings:
    ///
    ///     F(2k)   = F(k) (F(k) + 2 F(k-1))
    ///     F(2k+1) = (2 F(k) + F(k-1)) (2 F(k) - F(k-1)) + 2(-1)^k
    public static func fastDoubling(_ n: UInt64) -> BigNatural {
        if n < 2 { return BigNatural(n) }
        let reservedBits = bitCountUpperBound(n)
        let previous = BigNatural(0)  // F(k-1)
        let current = BigNatural(1)  // F(k)
        let square = BigNatural(reservingBits: reservedBits)
        let otherSquare = BigNatural(reservingBits: reservedBits)
        var kIsOdd = true  // k = 1 after the top bit

        // Bits below the top one, except the last: each turns (F(k-1), F(k)) into (F(2k-1), F(2k)) or
        // (F(2k), F(2k+1)).
        let topBit = 63 - n.leadingZeroBitCount
        var bit = topBit - 1
        while bit >= 1 {
            square.setProduct(current, current)  // F(k)^2
            otherSquare.setProduct(previous, previous)  // F(k-1)^2
            previous.setSum(square, otherSquare)  // F(2k-1)
            current.setShiftedLeft(square, by: 2)
            current.setDifference(current, otherSquare)
            addTwiceSign(current, kIsOdd: kIsOdd)  // F(2k+1)
            if (n >> UInt64(bit)) & 1 == 1 {
                previous.setDifference(current, previous)  // F(2k): pair is (F(2k), F(2k+1))
                kIsOdd = true
            } else {
                current.setDifference(current, previous)  // F(2k): pair is (F(2k-1), F(2k))
                kIsOdd = false
            }
            bit -= 1
        }

        let result = BigNatural(reservingBits: reservedBits)
        if n & 1 == 0 {
            square.setShiftedLeft(previous, by: 1)
            square.setSum(square, current)  // F(k) + 2 F(k-1)
            result.setProduct(current, square)
        } else {
            square.setShiftedLeft(current, by: 1)  // 2 F(k)
            otherSquare.setSum(square, previous)
            square.setDifference(square, previous)
            result.setProduct(otherSquare, square)
            addTwiceSign(result, kIsOdd: kIsOdd)
        }
        return result
    }

    /// Adds 2(-1)^k: GMP numbers here are never negative, and 4 F(k)^2 - F(k-1)^2 >= 2 for k >= 1.
    private static func addTwiceSign(_ number: BigNatural, kIsOdd: Bool) {
        if kIsOdd {
            number.subtract(2)
        } else {
            number.add(2)
        }
    }
}
