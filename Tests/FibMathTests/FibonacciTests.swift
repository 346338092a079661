import CGMP
import FibMath
import Testing

/// F(0...93) by plain UInt64 addition: the simplest possible oracle.
private let iterativeFibonacci: [UInt64] = {
    var values: [UInt64] = [0, 1]
    while values.count <= Int(Fibonacci.maxRecursiveN) {
        values.append(values[values.count - 1] + values[values.count - 2])
    }
    return values
}()

private func text(_ digits: [UInt8]) -> String {
    String(decoding: digits, as: UTF8.self)
}

@Suite struct FastDoublingTests {
    @Test func agreesWithMachineWordAdditionUpTo93() {
        for n in 0...Fibonacci.maxRecursiveN {
            #expect(
                text(Fibonacci.fastDoubling(n).decimalDigits()) == String(iterativeFibonacci[Int(n)]),
                "n = \(n)")
            #expect(Fibonacci.fastDoubling(n).uint64Value == iterativeFibonacci[Int(n)], "n = \(n)")
        }
    }

    @Test func agreesWithPythonUpTo100() throws {
        let ns = Array(UInt64(0)...100)
        let expected = try PythonReference.fibonacci(ns)
        for (n, value) in zip(ns, expected) {
            #expect(text(try Fibonacci.decimal(n, algorithm: .fast)) == value, "n = \(n)")
        }
    }

    @Test func matchesTheKnownValueOfF1000() {
        let f1000 =
            "4346655768693745643568852767504062580256466051737178040248172908953655541794905189040387984007925516"
            + "9295922593080322634775209689623239873322471161642996440906533187938298969649928516003704476137795166"
            + "849228875"
        #expect(text(Fibonacci.fastDoubling(1000).decimalDigits()) == f1000)
        #expect(Fibonacci.fastDoubling(1000).decimalString.count == 209)
    }

    @Test func f1000000HasTheRightLengthAndLastDigits() throws {
        let digits = try Fibonacci.decimal(1_000_000, algorithm: .fast)
        #expect(digits.count == 208_988)
        #expect(Fibonacci.approximateDigitCount(1_000_000) == 208_988)
        let lastDigits = try PythonReference.run(
            """
            def fib_pair(n, m):
                if n == 0:
                    return (0, 1)
                a, b = fib_pair(n >> 1, m)
                c = a * (2 * b - a) % m
                d = (a * a + b * b) % m
                return (d, (c + d) % m) if n & 1 else (c, d)
            print(str(fib_pair(10**6, 10**20)[0]).zfill(20))
            """)
        #expect(lastDigits == [text(Array(digits.suffix(20)))])
        #expect(digits.first == UInt8(ascii: "1"))  // F(10^6) = 1.9532821287077577e208987
        #expect(text(Array(digits.prefix(10))) == "1953282128")
    }

    @Test func thirtyRandomNumbersAgreeWithPython() throws {
        var generator = SystemRandomNumberGenerator()
        let ns = (0..<30).map { _ in UInt64.random(in: 0...50_000, using: &generator) }
        let expected = try PythonReference.fibonacci(ns)
        for (n, value) in zip(ns, expected) {
            #expect(text(Fibonacci.fastDoubling(n).decimalDigits()) == value, "n = \(n)")
        }
    }

    @Test func agreesWithGMPsOwnFibonacciAtEveryBitPattern() {
        // Small n cover every start of the bit walk; the powers of two and their neighbours cover long runs
        // of 0 and 1 bits; the large ones cover the final step at sizes where GMP switches algorithms.
        var ns = Array(UInt64(0)...300)
        for shift in UInt64(9)...20 {
            ns += [(1 << shift) - 1, 1 << shift, (1 << shift) + 1]
        }
        ns += [123_457, 999_999, 1_000_001, 2_718_281]
        for n in ns {
            #expect(GMPInteger(Fibonacci.fastDoubling(n)) == GMPInteger(fibonacci: n), "n = \(n)")
        }
    }

    @Test(arguments: [1, 2, 3, 10, 64, 65, 1000, 4097, 31_415, 100_000] as [UInt64])
    func doublingIdentityHolds(k: UInt64) {
        // F(2k) = F(k) (2 F(k+1) - F(k)), with the arithmetic done by GMP here.
        let fk = GMPInteger(Fibonacci.fastDoubling(k))
        let fkPlus1 = GMPInteger(Fibonacci.fastDoubling(k + 1))
        #expect(GMPInteger(Fibonacci.fastDoubling(2 * k)) == fk * (fkPlus1 + fkPlus1 - fk))
    }

    @Test(
        arguments: [(1, 1), (5, 8), (13, 100), (1000, 999), (4096, 12_345), (77_777, 22_223)]
            as [(UInt64, UInt64)])
    func additionIdentityHolds(m: UInt64, n: UInt64) {
        // F(m+n) = F(m) F(n+1) + F(m-1) F(n).
        func fibonacci(_ i: UInt64) -> GMPInteger { GMPInteger(Fibonacci.fastDoubling(i)) }
        #expect(fibonacci(m + n) == fibonacci(m) * fibonacci(n + 1) + fibonacci(m - 1) * fibonacci(n))
    }

    @Test func approximateDigitCountMatchesTheDigits() {
        for n in UInt64(0)...3000 {
            #expect(
                Fibonacci.approximateDigitCount(n) == Fibonacci.fastDoubling(n).decimalDigits().count,
                "n = \(n)")
        }
    }
}

@Suite struct RecursiveTests {
    @Test func agreesWithMachineWordAdditionUpTo30() throws {
        for n in UInt64(0)...30 {
            #expect(Fibonacci.recursive(n) == iterativeFibonacci[Int(n)], "n = \(n)")
            #expect(
                text(try Fibonacci.decimal(n, algorithm: .recursive)) == String(iterativeFibonacci[Int(n)]))
        }
    }

    @Test func refusesNumbersThatDoNotFitIn64Bits() {
        #expect(throws: FibonacciError.recursiveOutOfRange(n: 94)) {
            try Fibonacci.decimal(94, algorithm: .recursive)
        }
        #expect(throws: FibonacciError.recursiveOutOfRange(n: .max)) {
            try Fibonacci.decimal(.max, algorithm: .recursive)
        }
        #expect(FibonacciError.recursiveOutOfRange(n: 94).description.contains("93"))
    }

    @Test func fastAndRecursiveAgree() throws {
        for n in UInt64(0)...25 {
            #expect(
                try Fibonacci.decimal(n, algorithm: .fast) == Fibonacci.decimal(n, algorithm: .recursive))
        }
    }
}
