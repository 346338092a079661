import FibCore
import NIOCore

/// JSON forms of what the status pages read beyond tasks and workers: samples over time and task groups.
extension JSONWriter {
    mutating func sample(_ sample: SystemSample) {
        beginObject()
        key("seq")
        uint(sample.seq)
        member("time", rfc3339(sample.wallNanos))
        key("daemon")
        beginObject()
        member("cpu_seconds", sample.daemon.cpuSeconds)
        member("rss_bytes", sample.daemon.rssBytes)
        member("open_fds", sample.daemon.openFileDescriptors)
        member("connections", sample.daemon.connections)
        member("long_polls", sample.daemon.longPolls)
        member("loop_lag_seconds", seconds(sample.daemon.loopLagNanos))
        endObject()
        key("workers")
        beginArray()
        for worker in sample.workers { self.worker(worker) }
        endArray()
        endObject()
    }

    mutating func group(_ group: GroupView) {
        let figures = group.figures
        beginObject()
        member("name", group.name)
        member("queued", figures.queued)
        member("running", figures.running)
        member("done", figures.done)
        member("failed", figures.failed)
        member("cancelled", figures.cancelled)
        member("timed_out", figures.timedOut)
        member("computations", figures.computations)
        key("seconds")
        beginObject()
        member("queued", seconds(figures.queuedNanos))
        member("computing", seconds(figures.computeNanos))
        member("encoding", seconds(figures.encodeNanos))
        member("sending", seconds(figures.sendNanos))
        endObject()
        member("cached_results", group.cachedResults)
        member("cached_bytes", group.cachedBytes)
        endObject()
    }
}
