import FibCore
import NIOCore

/// JSON forms of the API's resources, written straight into a response buffer.
extension JSONWriter {
    /// A task; `includeResult: false` leaves out the digits (task lists).
    mutating func task(_ task: FibTask, includeResult: Bool = true) {
        beginObject()
        key("id")
        taskID(task.id)
        key("n")
        uint(task.n)
        member("algorithm", task.algorithm.rawValue)
        member("priority", task.priority)
        member("timeout", seconds(task.timeoutNanos))
        member("state", task.state.rawValue)
        member("attempts", task.attempts)
        key("submitted_at")
        timestamp(task.submittedAt)
        key("started_at")
        optionalTime(task.startedAt)
        key("finished_at")
        optionalTime(task.finishedAt)
        key("duration")
        if let nanos = task.durationNanos { double(seconds(nanos)) } else { null() }
        key("worker")
        if let pid = task.workerPID { int(Int(pid)) } else { null() }
        member("cached", task.cached)
        member("shared", task.shared)
        if let result = task.result {
            member("digits", result.count)
            if includeResult {
                key("result")
                digitString(result)
            }
        }
        if let error = task.error { member("error", error) }
        endObject()
    }

    mutating func event(_ event: Event) {
        beginObject()
        key("seq")
        uint(event.seq)
        key("time")
        timestamp(event.wallNanos)
        member("type", event.kind.rawValue)
        if let id = event.task {
            key("task")
            taskID(id)
        }
        if let n = event.n {
            key("n")
            uint(n)
        }
        if let algorithm = event.algorithm { member("algorithm", algorithm.rawValue) }
        if let pid = event.workerPID { member("worker", Int(pid)) }
        if let attempt = event.attempt { member("attempt", attempt) }
        if let nanos = event.durationNanos { member("duration", seconds(nanos)) }
        if let digits = event.digits { member("digits", digits) }
        if let result = event.result {
            key("result")
            digitString(result)
        }
        if let error = event.error { member("error", error) }
        if let cached = event.cached { member("cached", cached) }
        endObject()
    }

    mutating func worker(_ view: WorkerView) {
        beginObject()
        member("id", view.sample.id)
        key("pid")
        if let pid = view.sample.pid { int(Int(pid)) } else { null() }
        member("state", view.sample.state.rawValue)
        key("task")
        if let task = view.task { taskID(task.id) } else { null() }
        key("n")
        if let task = view.task { uint(task.n) } else { null() }
        member("cpu_seconds", view.sample.cpuSeconds)
        member("rss_bytes", view.sample.rssBytes)
        member("bytes_received", view.sample.bytesReceived)
        member("done", view.record?.done ?? 0)
        member("failed", view.record?.failed ?? 0)
        member("restarts", view.record?.restarts ?? 0)
        key("started_at")
        optionalTime(view.record?.readyAt)
        endObject()
    }

    mutating func status(_ snapshot: RuntimeSnapshot, version: String, maxWait: TimeAmount, maxBody: Int) {
        let counters = snapshot.counters
        let limits = snapshot.limits
        let idle = snapshot.workers.count { $0.sample.state == .idle }
        let busy = snapshot.workers.count { $0.sample.state == .busy }
        beginObject()
        member("version", version)
        member("started_at", rfc3339(snapshot.startedAt.wallNanos))
        member(
            "uptime_seconds", seconds(snapshot.now.monotonicNanos &- snapshot.startedAt.monotonicNanos))
        member("ready", snapshot.isReady && !snapshot.isDraining)
        member("draining", snapshot.isDraining)
        key("workers")
        beginObject()
        member("total", snapshot.expectedWorkers)
        member("idle", idle)
        member("busy", busy)
        member("starting", max(0, snapshot.expectedWorkers - idle - busy))
        endObject()
        key("tasks")
        beginObject()
        member("queued", counters.queued)
        member("running", counters.running)
        member("done", counters.done)
        member("failed", counters.failed)
        member("cancelled", counters.cancelled)
        member("timed_out", counters.timedOut)
        member("submitted", counters.submitted)
        member("deduplicated", counters.deduplicated)
        member("requeued", counters.requeued)
        endObject()
        key("throughput")
        beginObject()
        member("done_last_minute", snapshot.doneLastMinute)
        endObject()
        key("cache")
        beginObject()
        member("entries", snapshot.cacheEntries)
        member("bytes", snapshot.cacheBytes)
        member("max_bytes", snapshot.cacheCapacity)
        member("hits", snapshot.cacheHits)
        member("misses", snapshot.cacheMisses)
        endObject()
        key("limits")
        beginObject()
        key("max_n")
        uint(limits.maxN)
        member("max_queue", limits.maxQueue)
        member("max_batch", limits.maxBatch)
        member("max_body", maxBody)
        member("default_timeout", seconds(limits.defaultTimeoutNanos))
        member("max_timeout", seconds(limits.maxTimeoutNanos))
        member("max_wait", seconds(UInt64(max(0, maxWait.nanoseconds))))
        member("max_attempts", limits.maxAttempts)
        endObject()
        key("events")
        beginObject()
        key("head")
        uint(snapshot.eventHead)
        key("oldest")
        uint(snapshot.eventOldest)
        endObject()
        member("long_polls", snapshot.longPolls)
        endObject()
    }

    private mutating func optionalTime(_ wallNanos: Int64?) {
        if let wallNanos { timestamp(wallNanos) } else { null() }
    }

    /// A run of ASCII digits as a JSON string: nothing to escape, so no scan.
    mutating func digitString(_ digits: [UInt8]) {
        asciiString(digits)
    }

    /// A task id as its text (16 hex digits, as `TaskID.description`), written straight into the buffer.
    mutating func taskID(_ id: TaskID) {
        asciiString(count: 16) { bytes in
            let hexDigits: StaticString = "0123456789abcdef"
            var rest = id.rawValue
            for place in stride(from: 15, through: 0, by: -1) {
                bytes[place] = hexDigits.utf8Start[Int(rest & 0xF)]
                rest >>= 4
            }
        }
    }
}
