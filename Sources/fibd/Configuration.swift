import FibCore
import FibServer
import Logging

#if canImport(Glibc)
    import Glibc
#endif

/// A setting that could not be read, said so that the user knows where to look.
struct ConfigurationError: Error, CustomStringConvertible {
    var description: String
}

/// The daemon's settings, from (weakest first) the defaults, the config file, the environment
/// and the command line.
struct Configuration {
    var configFile: String?
    var listen: [String] = []
    var workers = 0
    var stateDirectory: String?
    var wwwDirectory: String?
    var limits = SchedulerLimits()
    var maxBody = 1 << 20
    var maxWaitNanos: UInt64 = 60 * nanosPerSecond
    var maxConnections = 16384
    var idleTimeoutNanos: UInt64 = 75 * nanosPerSecond
    var headerTimeoutNanos: UInt64 = 10 * nanosPerSecond
    var drainTimeoutNanos: UInt64 = 30 * nanosPerSecond
    var logLevel: Logger.Level = .info
    /// The bearer token's file (see AccessToken); nil: the systemd credential, if any, else no token.
    var tokenFile: String?
    var tokenScope = AccessPolicy.Scope.mutating

    /// What the command line asked for besides running the daemon.
    enum Request {
        case run(Configuration)
        case help
        case version
    }

    /// Reads the command line (without the program name), the environment and the config file it names.
    static func load(arguments: [String], environment: [String: String]) throws -> Request {
        var commandLine: [(OptionSpec, String)] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if argument == "--help" || argument == "-h" { return .help }
            if argument == "--version" { return .version }
            guard argument.hasPrefix("--") else {
                throw ConfigurationError(description: "unexpected argument '\(argument)' (see fibd --help)")
            }
            var name = String(argument.dropFirst(2))
            var value: String?
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            }
            if name == "token" {
                throw ConfigurationError(
                    description: "fibd takes no token on the command line, where other users can read it: "
                        + "put it in a file only you can read and pass --token-file FILE")
            }
            guard let spec = optionSpecs.first(where: { $0.name == name }) else {
                throw ConfigurationError(description: "unknown option '--\(name)' (see fibd --help)")
            }
            if value == nil {
                guard index < arguments.count else {
                    throw ConfigurationError(description: "option '--\(name)' needs a value")
                }
                value = arguments[index]
                index += 1
            }
            commandLine.append((spec, value ?? ""))
        }

        var configuration = Configuration()
        for spec in optionSpecs where !spec.defaultValue.isEmpty {
            try configuration.set(spec, spec.defaultValue, source: "default")
        }
        configuration.listen = []

        let configPath =
            commandLine.last(where: { $0.0.name == "config" })?.1
            ?? environment["FIBD_CONFIG"].flatMap { $0.isEmpty ? nil : $0 }
        // (setting, value, where it came from, rank of that source: file 0, environment 1, command line 2)
        var sources: [(OptionSpec, String, String, Int)] = []
        if let configPath {
            configuration.configFile = configPath
            sources += try readConfigFile(configPath).map { ($0.0, $0.1, "\(configPath):\($0.2)", 0) }
        }
        for spec in optionSpecs where spec.name != "config" {
            if let value = environment[spec.environmentName] {
                let values = spec.repeats ? value.split(separator: ",").map(String.init) : [value]
                sources += values.map { (spec, $0, spec.environmentName, 1) }
            }
        }
        sources += commandLine.filter { $0.0.name != "config" }.map { ($0.0, $0.1, $0.0.flag, 2) }

        // A repeatable option takes all its values from the strongest source that sets it.
        var listenRank: Int?
        for (spec, value, source, rank) in sources {
            if spec.repeats, listenRank != rank {
                configuration.listen = []
                listenRank = rank
            }
            try configuration.set(spec, value, source: source)
        }
        if configuration.listen.isEmpty { configuration.listen = ["127.0.0.1:8787"] }
        return .run(configuration)
    }

    /// The `name = value` lines of a config file, with their line numbers.
    static func readConfigFile(_ path: String) throws -> [(OptionSpec, String, Int)] {
        guard let text = readTextFile(path, limit: 1 << 20) else {
            throw ConfigurationError(
                description: "cannot read config file \(path): \(String(cString: strerror(errno)))")
        }
        var settings: [(OptionSpec, String, Int)] = []
        for (offset, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let trimmed = line.trimmingWhitespace()
            if trimmed.isEmpty { continue }
            guard let equals = trimmed.firstIndex(of: "=") else {
                throw ConfigurationError(description: "\(path):\(offset + 1): expected 'name = value'")
            }
            let name = trimmed[..<equals].trimmingWhitespace()
            let value = trimmed[trimmed.index(after: equals)...].trimmingWhitespace()
            guard let spec = optionSpecs.first(where: { $0.name == name }), spec.name != "config" else {
                throw ConfigurationError(description: "\(path):\(offset + 1): unknown setting '\(name)'")
            }
            settings.append((spec, value, offset + 1))
        }
        return settings
    }

    private mutating func set(_ spec: OptionSpec, _ value: String, source: String) throws {
        func fail(_ expected: String) -> ConfigurationError {
            ConfigurationError(description: "\(source): \(spec.name) must be \(expected), not '\(value)'")
        }
        switch spec.kind {
        case .count:
            guard let number = Int(value), number >= 0 else { throw fail("a whole number >= 0") }
            switch spec.name {
            case "workers": workers = number
            case "max-n": limits.maxN = UInt64(number)
            case "max-queue": limits.maxQueue = number
            case "max-batch": limits.maxBatch = max(1, number)
            case "max-attempts": limits.maxAttempts = max(1, number)
            case "retain-count": limits.retainCount = number
            case "event-log-size": limits.eventLogCapacity = max(1, number)
            case "max-connections": maxConnections = max(1, number)
            default: break
            }
        case .bytes:
            guard let bytes = parseBytes(value) else { throw fail("a size such as 65536, 512K, 256M or 1G") }
            switch spec.name {
            case "max-body": maxBody = bytes
            case "cache-size": limits.cacheBytes = bytes
            case "retain-bytes": limits.retainBytes = bytes
            default: break
            }
        case .seconds:
            guard let nanos = parseDurationNanos(value) else { throw fail("a duration such as 30, 0.5, 500ms or 2m") }
            switch spec.name {
            case "default-timeout": limits.defaultTimeoutNanos = max(1, nanos)
            case "max-timeout": limits.maxTimeoutNanos = max(1, nanos)
            case "max-wait": maxWaitNanos = nanos
            case "retain-time": limits.retainNanos = nanos
            case "idle-timeout": idleTimeoutNanos = max(1, nanos)
            case "header-timeout": headerTimeoutNanos = max(1, nanos)
            case "drain-timeout": drainTimeoutNanos = nanos
            default: break
            }
        case .text:
            switch spec.name {
            case "listen": listen.append(value)
            case "token-scope":
                guard let scope = AccessPolicy.Scope(rawValue: value) else { throw fail("mutating or all") }
                tokenScope = scope
            default: break
            }
        case .path:
            switch spec.name {
            case "state-dir": stateDirectory = value.isEmpty ? nil : value
            case "www": wwwDirectory = value.isEmpty ? nil : value
            case "token-file": tokenFile = value.isEmpty ? nil : value
            default: break
            }
        case .level:
            guard let level = Logger.Level(rawValue: value) else {
                throw fail("one of trace, debug, info, notice, warning, error, critical")
            }
            logLevel = level
        }
    }

    /// `fibd --help`: every option with its default, generated from the same table as the parser.
    static var helpText: String {
        var lines = [
            "USAGE: fibd [--config FILE] [--listen ADDR]... [--workers N] [OPTIONS]",
            "",
            "fibd computes Fibonacci numbers for clients of its REST API (see fibd(8)).",
            "Every option can also be set in the config file as 'name = value' and in",
            "the environment as FIBD_NAME (FIBD_MAX_QUEUE=5); the command line wins,",
            "then the environment, then the file.",
            "",
            "OPTIONS:",
        ]
        for spec in optionSpecs {
            let head = "  \(spec.flag) \(spec.placeholder)"
            let padded = head + String(repeating: " ", count: max(1, 28 - head.count))
            var help = spec.help
            if !spec.defaultValue.isEmpty { help += " (default: \(spec.defaultValue))" }
            lines.append(padded + help)
        }
        lines.append("  --help                    Show this help.")
        lines.append("  --version                 Show the version.")
        return lines.joined(separator: "\n")
    }
}

/// Sizes with an optional binary suffix: 65536, 512K, 256M, 1G.
func parseBytes(_ text: String) -> Int? {
    var digits = Substring(text)
    var multiplier = 1
    switch digits.last.map({ Character($0.uppercased()) }) {
    case "K": multiplier = 1 << 10
    case "M": multiplier = 1 << 20
    case "G": multiplier = 1 << 30
    default: break
    }
    if multiplier != 1 { digits = digits.dropLast() }
    guard let value = Int(digits), value >= 0, value <= Int.max / multiplier else { return nil }
    return value * multiplier
}

/// A whole small file as text; nil if it cannot be read.
func readTextFile(_ path: String, limit: Int) -> String? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while bytes.count < limit {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0, errno == EINTR { continue }
        guard count >= 0 else { return nil }
        if count == 0 { break }
        bytes += chunk[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

extension StringProtocol {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars.drop { $0 == " " || $0 == "\t" || $0 == "\r" }
        var trimmed = String(String.UnicodeScalarView(scalars))
        while let last = trimmed.last, last == " " || last == "\t" || last == "\r" { trimmed.removeLast() }
        return trimmed
    }
}
