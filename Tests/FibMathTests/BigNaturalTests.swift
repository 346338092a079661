import FibMath
import Testing

@Suite struct BigNaturalTests {
    /// Values around powers of ten and two, where GMP's digit-count estimate is exact or one too large:
    /// both branches of the trimming in `decimalDigits()` must give the plain digits.
    @Test func decimalDigitsMatchSwiftsOwnFormatting() {
        var values: [UInt64] = [0, 1, 2, 9, 10, 11, .max, .max - 1, 1 << 63]
        var power: UInt64 = 10
        while true {
            values += [power - 1, power, power + 1]
            let (next, overflow) = power.multipliedReportingOverflow(by: 10)
            if overflow { break }
            power = next
        }
        for shift in UInt64(0)..<64 {
            values += [(1 << shift) - 1, 1 << shift]
        }
        for value in values {
            let number = BigNatural(value)
            #expect(String(decoding: number.decimalDigits(), as: UTF8.self) == String(value))
            #expect(number.description == String(value))
            #expect(number.uint64Value == value)
            let upperBound = number.decimalDigitCountUpperBound
            #expect(
                upperBound == String(value).count || upperBound == String(value).count + 1, "\(value)")
        }
    }

    @Test func reportsSizeAndZero() {
        #expect(BigNatural().isZero)
        #expect(BigNatural().bitWidth == 0)
        #expect(BigNatural().decimalDigits() == Array("0".utf8))
        #expect(!BigNatural(5).isZero)
        #expect(BigNatural(5).bitWidth == 3)
        #expect(BigNatural(.max).bitWidth == 64)
        #expect(BigNatural(7) == BigNatural(7))
        #expect(BigNatural(7) != BigNatural(8))
    }

    @Test func largeNumbersDoNotFitInAWord() {
        #expect(Fibonacci.fastDoubling(93).uint64Value == 12_200_160_415_121_876_738)
        #expect(Fibonacci.fastDoubling(94).uint64Value == nil)
        #expect(Fibonacci.fastDoubling(94).bitWidth == 65)
    }
}
