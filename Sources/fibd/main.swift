import FibWorkers

// `fibd worker` is the pool's child process: dispatch before anything else is set up.
if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == "worker" {
    WorkerMain.run()
}
