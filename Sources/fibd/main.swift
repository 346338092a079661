import FibSystemd
import FibWorkers
import Logging

#if canImport(Glibc)
    import Glibc
#endif

// `fibd worker` is the pool's child process: dispatch before anything else is set up,
// so that a worker starts in a millisecond and carries none of the daemon's state.
if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == "worker" {
    // Workers log where the daemon does (the journal, or stderr), under an identifier of their own.
    let workerEnvironment = processEnvironment()
    let level = workerEnvironment["FIBD_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
    bootstrapLogging(identifier: "fibd-worker", threshold: LogThreshold(level), environment: workerEnvironment)
    WorkerMain.run(logger: Logger(label: "fibd-worker"))
}

let arguments = Array(CommandLine.arguments.dropFirst())
let environment = processEnvironment()
let request: Configuration.Request
do {
    request = try Configuration.load(arguments: arguments, environment: environment)
} catch {
    writeStandardError("fibd: \(error)\n")
    ServiceNotifier(environment: environment).send(.status("failed: \(error)"), .errno(EINVAL))
    exit(2)
}

switch request {
case .help:
    print(Configuration.helpText)
case .version:
    print("fibd \(fibdVersion)")
case .run(let configuration):
    exit(await Daemon(configuration: configuration, arguments: arguments, environment: environment).run())
}
