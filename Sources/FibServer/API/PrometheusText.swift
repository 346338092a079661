import FibCore

/// /metrics in the Prometheus text exposition format (version 0.0.4), written from figures
/// the scheduler and the HTTP layer keep anyway: a scrape costs one pass over them.
enum PrometheusText {
    static func render(_ snapshot: RuntimeSnapshot, http: HTTPMetrics?) -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func sample(_ name: String, _ value: some CustomStringConvertible) {
            out += "\(name) \(value)\n"
        }
        func sample(_ name: String, _ labels: String, _ value: some CustomStringConvertible) {
            out += "\(name){\(labels)} \(value)\n"
        }
        let counters = snapshot.counters

        family("fibd_tasks", "gauge", "Tasks by state: queued and running now, final states since start.")
        sample("fibd_tasks", "state=\"queued\"", counters.queued)
        sample("fibd_tasks", "state=\"running\"", counters.running)
        sample("fibd_tasks", "state=\"done\"", counters.done)
        sample("fibd_tasks", "state=\"failed\"", counters.failed)
        sample("fibd_tasks", "state=\"cancelled\"", counters.cancelled)
        sample("fibd_tasks", "state=\"timed_out\"", counters.timedOut)
        family("fibd_tasks_submitted_total", "counter", "Tasks accepted.")
        sample("fibd_tasks_submitted_total", counters.submitted)
        family("fibd_tasks_deduplicated_total", "counter", "Tasks that shared a computation already under way.")
        sample("fibd_tasks_deduplicated_total", counters.deduplicated)
        family("fibd_tasks_requeued_total", "counter", "Runs lost to a worker's death and queued again.")
        sample("fibd_tasks_requeued_total", counters.requeued)
        family("fibd_queue_depth", "gauge", "Tasks waiting for a worker.")
        sample("fibd_queue_depth", counters.queued)

        family("fibd_task_duration_seconds", "histogram", "Time from start to end of computed tasks that finished.")
        let histogram = snapshot.durations
        for (bound, count) in zip(DurationHistogram.bounds, histogram.cumulativeCounts) {
            sample("fibd_task_duration_seconds_bucket", "le=\"\(bound)\"", count)
        }
        sample("fibd_task_duration_seconds_bucket", "le=\"+Inf\"", histogram.count)
        sample("fibd_task_duration_seconds_sum", histogram.sumSeconds)
        sample("fibd_task_duration_seconds_count", histogram.count)

        family("fibd_workers", "gauge", "Worker processes, by state.")
        for state in ["starting", "idle", "busy", "restarting"] {
            sample("fibd_workers", "state=\"\(state)\"", snapshot.workers.count { $0.sample.state.rawValue == state })
        }
        family("fibd_worker_restarts_total", "counter", "Worker processes that ended and were replaced.")
        sample("fibd_worker_restarts_total", counters.workerRestarts)

        family("fibd_cache_hits_total", "counter", "Submits answered from the result cache.")
        sample("fibd_cache_hits_total", snapshot.cacheHits)
        family("fibd_cache_bytes", "gauge", "Bytes of results in the cache.")
        sample("fibd_cache_bytes", snapshot.cacheBytes)
        family("fibd_long_polls", "gauge", "Requests held waiting for a task or an event.")
        sample("fibd_long_polls", snapshot.longPolls)

        if let http {
            family("fibd_http_requests_total", "counter", "HTTP responses sent, by status code.")
            for (code, count) in http.responsesByStatus() {
                sample("fibd_http_requests_total", "code=\"\(code)\"", count)
            }
            family("fibd_http_connections", "gauge", "Open client connections.")
            sample("fibd_http_connections", http.openConnections)
        }
        return out
    }
}
