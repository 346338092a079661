/// One setting of the daemon. The same table drives the command line, the config file,
/// the environment and `--help`, so the three sources can never drift apart.
struct OptionSpec {
    enum Kind {
        case count
        case bytes
        case seconds
        case text
        case path
        case level
    }

    /// The long flag without dashes; also the key in the config file.
    var name: String
    var kind: Kind
    /// The value used when no source sets it, as text in the option's own syntax.
    var defaultValue: String
    var help: String
    /// May be given more than once (all values are kept).
    var repeats = false

    var flag: String { "--" + name }
    var environmentName: String { "FIBD_" + name.uppercased().replacing("-", with: "_") }

    var placeholder: String {
        switch kind {
        case .count: return "N"
        case .bytes: return "BYTES"
        case .seconds: return "SECONDS"
        case .text: return name == "listen" ? "ADDR" : name == "token-scope" ? "SCOPE" : "VALUE"
        case .path: return name == "config" || name == "token-file" ? "FILE" : "DIR"
        case .level: return "LEVEL"
        }
    }
}

/// Every option fibd takes, in the order `--help` and fibd(8) list them.
let optionSpecs: [OptionSpec] = [
    OptionSpec(
        name: "config", kind: .path, defaultValue: "",
        help: "Read settings from FILE: lines of 'name = value', '#' starts a comment."),
    OptionSpec(
        name: "listen", kind: .text, defaultValue: "127.0.0.1:8787",
        help: "Listen on ADDR: HOST:PORT, [IPV6]:PORT or unix:PATH. Repeat for more listeners.",
        repeats: true),
    OptionSpec(
        name: "workers", kind: .count, defaultValue: "0",
        help: "Worker processes; 0 means one per usable CPU (affinity and cgroup quota)."),
    OptionSpec(
        name: "state-dir", kind: .path, defaultValue: "",
        help: "Directory for durable state ($STATE_DIRECTORY under systemd)."),
    OptionSpec(
        name: "www", kind: .path, defaultValue: "",
        help: "Serve the pages from DIR instead of the copies built into the binary."),
    OptionSpec(name: "max-n", kind: .count, defaultValue: "10000000", help: "Largest n the fast algorithm accepts."),
    OptionSpec(
        name: "max-queue", kind: .count, defaultValue: "100000",
        help: "Tasks that may wait for a worker; more are refused with 503."),
    OptionSpec(name: "max-batch", kind: .count, defaultValue: "1000", help: "Tasks in one batch submit."),
    OptionSpec(name: "max-body", kind: .bytes, defaultValue: "1M", help: "Largest request body."),
    OptionSpec(
        name: "default-timeout", kind: .seconds, defaultValue: "300",
        help: "Time a task may run when it names no timeout."),
    OptionSpec(name: "max-timeout", kind: .seconds, defaultValue: "3600", help: "Largest timeout a task may ask for."),
    OptionSpec(
        name: "max-wait", kind: .seconds, defaultValue: "60", help: "Longest long-poll; longer waits are cut to it."),
    OptionSpec(
        name: "max-attempts", kind: .count, defaultValue: "3",
        help: "Runs of a task whose worker dies before the task fails."),
    OptionSpec(name: "cache-size", kind: .bytes, defaultValue: "256M", help: "Bytes of results kept for reuse."),
    OptionSpec(
        name: "retain-time", kind: .seconds, defaultValue: "3600",
        help: "Finished tasks are forgotten after this long..."),
    OptionSpec(name: "retain-count", kind: .count, defaultValue: "100000", help: "...or beyond this many..."),
    OptionSpec(
        name: "retain-bytes", kind: .bytes, defaultValue: "1G", help: "...or beyond this many bytes of results."),
    OptionSpec(
        name: "event-log-size", kind: .count, defaultValue: "65536",
        help: "Events kept for the events feed; older cursors must resync."),
    OptionSpec(name: "max-connections", kind: .count, defaultValue: "16384", help: "Open client connections."),
    OptionSpec(
        name: "idle-timeout", kind: .seconds, defaultValue: "75",
        help: "Close a keep-alive connection idle this long."),
    OptionSpec(
        name: "header-timeout", kind: .seconds, defaultValue: "10",
        help: "Close a connection whose request head takes longer than this."),
    OptionSpec(
        name: "drain-timeout", kind: .seconds, defaultValue: "30",
        help: "On SIGTERM, how long running tasks may take to finish before their workers are killed."),
    OptionSpec(
        name: "token-file", kind: .path, defaultValue: "",
        help: "Require 'Authorization: Bearer TOKEN' with the token in FILE (not readable by others; "
            + "default: the systemd credential fibd-token, if given)."),
    OptionSpec(
        name: "token-scope", kind: .text, defaultValue: "mutating",
        help: "What the token guards: mutating (every method but GET and HEAD) or all (everything but "
            + "/healthz and /readyz)."),
    OptionSpec(
        name: "log-level", kind: .level, defaultValue: "info",
        help: "Least severe messages logged: trace, debug, info, notice, warning, error or critical."),
]
