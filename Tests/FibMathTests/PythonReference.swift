import Foundation

/// Fibonacci numbers computed by python3's arbitrary-precision integers: an oracle independent of GMP.
enum PythonReference {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs `python3 -c script` and returns its standard output lines.
    ///
    /// Output goes to a file rather than a pipe so a large answer cannot fill the pipe and stall the child
    /// while the test waits for it to exit.
    static func run(_ script: String, timeoutSeconds: Double = 30) throws -> [String] {
        let outputURL = FileManager.default.temporaryDirectory
            .appendingPathComponent("fibmath-python-\(UUID().uuidString).txt")
        guard FileManager.default.createFile(atPath: outputURL.path, contents: nil) else {
            throw Failure(description: "cannot create \(outputURL.path)")
        }
        defer { try? FileManager.default.removeItem(at: outputURL) }
        let output = try FileHandle(forWritingTo: outputURL)
        defer { try? output.close() }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        process.standardOutput = output
        let exited = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in exited.signal() }
        try process.run()
        guard exited.wait(timeout: .now() + timeoutSeconds) == .success else {
            process.terminate()
            throw Failure(description: "python3 did not finish within \(timeoutSeconds) s")
        }
        guard process.terminationStatus == 0 else {
            throw Failure(description: "python3 exited with status \(process.terminationStatus)")
        }
        let text = try String(contentsOf: outputURL, encoding: .utf8)
        return text.split(separator: "\n").map(String.init)
    }

    /// Python source defining `fib(n)` by fast doubling (exact, quick for n in the millions) and lifting the
    /// interpreter's limit on converting big integers to decimal strings.
    static let prelude = """
        import sys
        sys.set_int_max_str_digits(0)
        def fib_pair(n):
            if n == 0:
                return (0, 1)
            a, b = fib_pair(n >> 1)
            c = a * (2 * b - a)
            d = a * a + b * b
            return (d, c + d) if n & 1 else (c, d)
        def fib(n):
            return fib_pair(n)[0]
        """

    /// F(n) in decimal for each n, in order.
    static func fibonacci(_ ns: [UInt64]) throws -> [String] {
        let list = ns.map(String.init).joined(separator: ",")
        let lines = try run(prelude + "\nfor n in [\(list)]:\n    print(fib(n))\n")
        guard lines.count == ns.count else {
            throw Failure(description: "python3 printed \(lines.count) lines for \(ns.count) numbers")
        }
        return lines
    }
}
