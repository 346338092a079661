import FibWorkers

#if canImport(Glibc)
    import Glibc
#endif

// `fibd worker` is the pool's child process: dispatch before anything else is set up,
// so that a worker starts in a millisecond and carries none of the daemon's state.
if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == "worker" {
    WorkerMain.run()
}

let request: Configuration.Request
do {
    request = try Configuration.load(
        arguments: Array(CommandLine.arguments.dropFirst()), environment: processEnvironment())
} catch {
    writeStandardError("fibd: \(error)\n")
    exit(2)
}

switch request {
case .help:
    print(Configuration.helpText)
case .version:
    print("fibd \(fibdVersion)")
case .run(let configuration):
    exit(await Daemon(configuration: configuration).run())
}
