import FibCore
import FibMath
import NIOCore
import NIOHTTP1
import Synchronization

/// Settings of the API that are not the scheduler's.
public struct APISettings: Sendable {
    public var version: String
    /// Long-polls are cut to this.
    public var maxWait: TimeAmount
    public var maxBody: Int

    public init(version: String, maxWait: TimeAmount, maxBody: Int) {
        self.version = version
        self.maxWait = maxWait
        self.maxBody = maxBody
    }
}

/// The REST API v1: routes requests to the task runtime and writes its answers as JSON.
public final class APIResponder: HTTPResponder, @unchecked Sendable {
    private let runtime: TaskRuntime
    private let settings: APISettings
    /// Limits as last applied; read on any loop, written on reload only.
    private let limitsBox: Mutex<SchedulerLimits>
    /// The token and what it guards, as last applied (at start and on reload).
    private let accessBox = Mutex(AccessPolicy.open)
    /// The OpenAPI document with the limits and access now in force, ready to send.
    private let documentBox: Mutex<ByteBuffer>
    /// The HTTP layer's counters, for /metrics and the scheduler-system view. Set once during wiring.
    public var httpMetrics: HTTPMetrics? {
        didSet {
            let metrics = httpMetrics
            runtime.connectionCount = { metrics?.openConnections ?? 0 }
        }
    }
    /// The pages (the app and the status views): the copies built in unless wiring sets a directory.
    public var pages = PageServer()

    public init(runtime: TaskRuntime, settings: APISettings, limits: SchedulerLimits) {
        self.runtime = runtime
        self.settings = settings
        self.limitsBox = Mutex(limits)
        self.documentBox = Mutex(ByteBuffer(string: OpenAPIDocument.served(limits: limits, access: .open)))
    }

    /// Takes new scheduler limits for request validation (on reload).
    public func apply(_ limits: SchedulerLimits) {
        limitsBox.withLock { $0 = limits }
        refreshDocument()
    }

    /// Takes a new token or scope (at start and on reload).
    public func apply(_ access: AccessPolicy) {
        accessBox.withLock { $0 = access }
        refreshDocument()
    }

    private func refreshDocument() {
        let text = OpenAPIDocument.served(limits: limits, access: accessBox.withLock { $0 })
        documentBox.withLock { $0 = ByteBuffer(string: text) }
    }

    private var limits: SchedulerLimits { limitsBox.withLock { $0 } }

    public func respond(to request: HTTPRequest, context: RequestContext) -> EventLoopFuture<HTTPResponse> {
        // Errors from below (a `SubmitRefusal`) are `ProblemConvertible`: the HTTP layer answers with their
        // problem, so that no future is chained on every request just to map a rare failure.
        do {
            return try route(request, context: context)
        } catch {
            return context.eventLoop.makeFailedFuture(error)
        }
    }

    private func route(_ request: HTTPRequest, context: RequestContext) throws -> EventLoopFuture<HTTPResponse> {
        let path = request.path
        let method = request.method == .HEAD ? HTTPMethod.GET : request.method
        func allow(_ methods: [HTTPMethod]) throws {
            if !methods.contains(method) { throw APIProblems.methodNotAllowed(request.method, allowed: methods) }
        }
        if let refusal = accessBox.withLock({ $0.check(method: method, path: path, headers: request.headers) }) {
            throw refusal
        }
        switch path {
        case "/api/v1/tasks":
            try allow([.GET, .POST])
            return method == .POST ? try submit(request, context) : try list(request, context)
        case "/api/v1/events":
            try allow([.GET])
            return try events(request, context)
        case "/api/v1/workers":
            try allow([.GET])
            return workers(context)
        case "/api/v1/status":
            try allow([.GET])
            return status(context)
        case "/api/v1/openapi.json":
            try allow([.GET])
            return context.eventLoop.makeSucceededFuture(.json(.ok, documentBox.withLock { $0 }))
        case "/healthz":
            try allow([.GET])
            return healthz(context)
        case "/readyz":
            try allow([.GET])
            return readyz(context)
        case "/metrics":
            try allow([.GET])
            return metrics(context)
        case "/api/v1/samples":
            try allow([.GET])
            return try samples(request, context)
        case "/api/v1/groups":
            try allow([.GET])
            return groups(context)
        default:
            break
        }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        if segments.count == 5, segments[0].isEmpty, segments[1] == "api", segments[2] == "v1", !segments[4].isEmpty {
            switch segments[3] {
            case "tasks":
                try allow([.GET, .DELETE])
                let id = String(segments[4])
                return method == .DELETE ? try cancel(id, context) : try task(id, request, context)
            case "fib":
                try allow([.GET])
                return try fib(segments[4], request, context)
            default:
                break
            }
        }
        if !path.hasPrefix("/api/"), let page = pages.response(for: request, allocator: context.allocator) {
            try allow([.GET])
            return context.eventLoop.makeSucceededFuture(page)
        }
        throw APIProblems.notFound(path)
    }

    // MARK: - Tasks

    private func submit(_ request: HTTPRequest, _ context: RequestContext) throws -> EventLoopFuture<HTTPResponse> {
        if let type = request.headers.first(name: "content-type"), !Self.isJSONContentType(type) {
            throw APIProblems.unsupportedMediaType(type)
        }
        let wait = try waitParameter(request)
        let body: JSONValue
        do {
            body = try JSONParser.parse(request.body)
        } catch {
            throw APIProblems.malformedJSON("the body is not valid JSON: \(error)")
        }
        let (requests, isBatch) = try TaskDecoding.requests(from: body, limits: limits)
        return runtime.submit(requests, isBatch: isBatch, wait: wait).map { tasks in
            let allEnded = tasks.allSatisfy { $0.state.isFinal }
            let status: HTTPResponseStatus = wait != nil && allEnded ? .ok : .accepted
            var writer = JSONWriter(allocator: context.allocator, capacity: 512 * tasks.count)
            if isBatch {
                writer.beginObject()
                writer.key("tasks")
                writer.beginArray()
                for task in tasks { writer.task(task) }
                writer.endArray()
                writer.endObject()
            } else if let task = tasks.first {
                writer.task(task)
            }
            var response = HTTPResponse.json(status, writer.buffer)
            if !isBatch, let task = tasks.first {
                response.headers.add(name: "location", value: Self.location(of: task.id))
            }
            return response
        }
    }

    /// `/api/v1/tasks/{id}`, built in place (one allocation, where `description` and `+` take three).
    static func location(of id: TaskID) -> String {
        let prefix: StaticString = "/api/v1/tasks/"
        let prefixLength = prefix.utf8CodeUnitCount
        return String(unsafeUninitializedCapacity: prefixLength + 16) { bytes in
            UnsafeMutableRawBufferPointer(bytes).copyMemory(
                from: UnsafeRawBufferPointer(start: prefix.utf8Start, count: prefixLength))
            let hexDigits: StaticString = "0123456789abcdef"
            var rest = id.rawValue
            for place in stride(from: prefixLength + 15, through: prefixLength, by: -1) {
                bytes[place] = hexDigits.utf8Start[Int(rest & 0xF)]
                rest >>= 4
            }
            return prefixLength + 16
        }
    }

    /// curl's `-d` sends form encoding by default; a JSON body under that label is still JSON.
    static func isJSONContentType(_ value: String) -> Bool {
        // The media type is the first non-empty piece before a `;` (as `split` would give it), trimmed.
        var rest = value.utf8[...]
        while rest.first == UInt8(ascii: ";") { rest = rest.dropFirst() }
        let type = (rest.firstIndex(of: UInt8(ascii: ";")).map { rest[..<$0] } ?? rest).trimmingASCIISpaces()
        return type.isEmpty || type.equalsIgnoringASCIICase("application/json")
            || type.equalsIgnoringASCIICase("application/x-www-form-urlencoded")
            || (type.count >= 5 && type.suffix(5).equalsIgnoringASCIICase("+json"))
    }

    private func task(_ idText: String, _ request: HTTPRequest, _ context: RequestContext) throws
        -> EventLoopFuture<HTTPResponse>
    {
        guard let id = TaskID(idText) else { throw APIProblems.taskNotFound(idText) }
        let wait = try waitParameter(request)
        return runtime.task(id, wait: wait, clientGone: context.closeFuture).flatMapThrowing { task in
            guard let task else { throw APIProblems.taskNotFound(idText) }
            var writer = JSONWriter(allocator: context.allocator, capacity: 512 + (task.result?.count ?? 0))
            writer.task(task)
            return .json(.ok, writer.buffer)
        }
    }

    private func cancel(_ idText: String, _ context: RequestContext) throws -> EventLoopFuture<HTTPResponse> {
        guard let id = TaskID(idText) else { throw APIProblems.taskNotFound(idText) }
        return runtime.cancel(id).flatMapThrowing { outcome in
            switch outcome {
            case .notFound:
                throw APIProblems.taskNotFound(idText)
            case .alreadyEnded(let task):
                throw APIProblems.taskEnded(task)
            case .cancelled(let task):
                var writer = JSONWriter(allocator: context.allocator, capacity: 512)
                writer.task(task)
                return .json(.ok, writer.buffer)
            }
        }
    }

    private func list(_ request: HTTPRequest, _ context: RequestContext) throws -> EventLoopFuture<HTTPResponse> {
        var states: Set<TaskState>?
        if let text = request.query["state"], !text.isEmpty {
            var chosen = Set<TaskState>()
            for name in text.split(separator: ",") {
                guard let state = TaskState(rawValue: String(name)) else {
                    throw APIProblems.invalidParameter(
                        "state must be a comma-separated list of queued, running, done, failed, cancelled, timed_out")
                }
                chosen.insert(state)
            }
            states = chosen
        }
        let limit = try integerParameter(request, "limit", default: 100, range: 1...1000)
        var cursor: TaskID?
        if let text = request.query["cursor"], !text.isEmpty {
            guard let id = TaskID(text) else {
                throw APIProblems.invalidParameter("cursor must be a value of next_cursor from an earlier page")
            }
            cursor = id
        }
        return runtime.listTasks(states: states, after: cursor, limit: limit).map { tasks, next in
            var writer = JSONWriter(allocator: context.allocator, capacity: 256 * tasks.count + 64)
            writer.beginObject()
            writer.key("tasks")
            writer.beginArray()
            for task in tasks { writer.task(task, includeResult: false) }
            writer.endArray()
            writer.key("next_cursor")
            if let next { writer.string(next.description) } else { writer.null() }
            writer.endObject()
            return .json(.ok, writer.buffer)
        }
    }

    private func fib(_ nText: Substring, _ request: HTTPRequest, _ context: RequestContext) throws
        -> EventLoopFuture<HTTPResponse>
    {
        var algorithm = Algorithm.default
        if let name = request.query["algorithm"] {
            guard let known = Algorithm(rawValue: name) else {
                throw APIProblems.invalidTask("algorithm must be one of fast, recursive")
            }
            algorithm = known
        }
        let limits = limits
        let n = try TaskDecoding.naturalNumber(nText, algorithm: algorithm, limits: limits)
        var timeoutNanos: UInt64?
        if let text = request.query["timeout"] {
            guard let nanos = parseTimeoutNanos(text), nanos <= limits.maxTimeoutNanos else {
                throw APIProblems.invalidParameter(
                    "timeout must be a duration more than 0 and at most "
                        + "\(TaskDecoding.formatNumber(seconds(limits.maxTimeoutNanos))) s")
            }
            timeoutNanos = nanos
        }
        var shared = true
        switch request.query["shared"] {
        case nil, "true"?: break
        case "false"?: shared = false
        case let text?: throw APIProblems.invalidTask("shared must be true or false, not '\(text)'")
        }
        let taskRequest = TaskRequest(n: n, algorithm: algorithm, timeoutNanos: timeoutNanos, shared: shared)
        if let message = taskRequest.problem(under: limits) { throw APIProblems.invalidTask(message) }
        let wantsText = Self.prefersText(request.headers.first(name: "accept"))
        return runtime.compute(taskRequest, clientGone: context.closeFuture).flatMapThrowing { task in
            guard task.state == .done, let digits = task.result else { throw APIProblems.taskFailed(task) }
            var buffer = context.allocator.buffer(capacity: digits.count + 128)
            if wantsText {
                buffer.writeBytes(digits)
                buffer.writeInteger(UInt8(ascii: "\n"))
                return .text(.ok, buffer)
            }
            var writer = JSONWriter(buffer: buffer)
            writer.beginObject()
            writer.key("n")
            writer.uint(task.n)
            writer.member("algorithm", task.algorithm.rawValue)
            writer.member("digits", digits.count)
            writer.key("result")
            writer.digitString(digits)
            writer.endObject()
            buffer = writer.buffer
            return .json(.ok, buffer)
        }
    }

    /// True when the client asks for text/plain rather than JSON.
    static func prefersText(_ accept: String?) -> Bool {
        guard let accept else { return false }
        let types = accept.split(separator: ",").map {
            $0.split(separator: ";").first.map { $0.trimmingASCIISpaces().lowercased() } ?? ""
        }
        guard let text = types.firstIndex(of: "text/plain") else { return false }
        let json = types.firstIndex { $0 == "application/json" || $0 == "*/*" || $0 == "application/*" }
        return json.map { text < $0 } ?? true
    }

    // MARK: - Events, workers, status

    private func events(_ request: HTTPRequest, _ context: RequestContext) throws -> EventLoopFuture<HTTPResponse> {
        var cursor: UInt64?
        if let text = request.query["after"] {
            guard let value = UInt64(text) else {
                throw APIProblems.invalidParameter("after must be a non-negative integer: the 'next' of a reply")
            }
            cursor = value
        }
        let limit = try integerParameter(request, "limit", default: 1000, range: 1...10_000)
        let wait = try waitParameter(request)
        return runtime.events(after: cursor, limit: limit, wait: wait, clientGone: context.closeFuture)
            .flatMapThrowing { read, oldest in
                switch read {
                case .expired(let head):
                    throw APIProblems.cursorExpired(head: head)
                case .events(let events, let next):
                    var writer = JSONWriter(allocator: context.allocator, capacity: 64 + 160 * events.count)
                    writer.beginObject()
                    writer.key("events")
                    writer.beginArray()
                    for event in events { writer.event(event) }
                    writer.endArray()
                    writer.key("next")
                    writer.uint(next)
                    writer.key("oldest")
                    writer.uint(oldest)
                    writer.endObject()
                    return .json(.ok, writer.buffer)
                }
            }
    }

    private func workers(_ context: RequestContext) -> EventLoopFuture<HTTPResponse> {
        runtime.snapshot().map { snapshot in
            var writer = JSONWriter(allocator: context.allocator, capacity: 64 + 256 * snapshot.workers.count)
            writer.beginObject()
            writer.key("workers")
            writer.beginArray()
            for worker in snapshot.workers { writer.worker(worker) }
            writer.endArray()
            writer.endObject()
            return .json(.ok, writer.buffer)
        }
    }

    private func status(_ context: RequestContext) -> EventLoopFuture<HTTPResponse> {
        let settings = settings
        return runtime.snapshot().map { snapshot in
            var writer = JSONWriter(allocator: context.allocator, capacity: 1024)
            writer.status(snapshot, version: settings.version, maxWait: settings.maxWait, maxBody: settings.maxBody)
            return .json(.ok, writer.buffer)
        }
    }

    private func samples(_ request: HTTPRequest, _ context: RequestContext) throws -> EventLoopFuture<HTTPResponse> {
        var cursor: UInt64?
        if let text = request.query["after"] {
            guard let value = UInt64(text) else {
                throw APIProblems.invalidParameter("after must be a non-negative integer: the 'next' of a reply")
            }
            cursor = value
        }
        let limit = try integerParameter(request, "limit", default: 60, range: 1...SystemSampleRing.capacity)
        let wait = try waitParameter(request)
        return runtime.samples(after: cursor, limit: limit, wait: wait, clientGone: context.closeFuture).map {
            samples, next in
            let workers = samples.last?.workers.count ?? 0
            var writer = JSONWriter(allocator: context.allocator, capacity: 64 + samples.count * (256 + 300 * workers))
            writer.beginObject()
            writer.key("samples")
            writer.beginArray()
            for sample in samples { writer.sample(sample) }
            writer.endArray()
            writer.key("next")
            writer.uint(next)
            writer.endObject()
            return .json(.ok, writer.buffer)
        }
    }

    private func groups(_ context: RequestContext) -> EventLoopFuture<HTTPResponse> {
        runtime.groups().map { groups in
            var writer = JSONWriter(allocator: context.allocator, capacity: 64 + 320 * groups.count)
            writer.beginObject()
            writer.key("groups")
            writer.beginArray()
            for group in groups { writer.group(group) }
            writer.endArray()
            writer.endObject()
            return .json(.ok, writer.buffer)
        }
    }

    private func healthz(_ context: RequestContext) -> EventLoopFuture<HTTPResponse> {
        // Answered from the runtime's loop, so a stuck scheduler shows up as a health failure.
        runtime.eventLoop.submit {
            .json(.ok, context.allocator.buffer(string: #"{"status":"ok"}"#))
        }.hop(to: context.eventLoop)
    }

    private func readyz(_ context: RequestContext) -> EventLoopFuture<HTTPResponse> {
        runtime.snapshot().map { snapshot in
            if snapshot.isDraining {
                return .json(.serviceUnavailable, context.allocator.buffer(string: #"{"status":"draining"}"#))
            }
            if !snapshot.isReady {
                return .json(.serviceUnavailable, context.allocator.buffer(string: #"{"status":"starting"}"#))
            }
            return .json(.ok, context.allocator.buffer(string: #"{"status":"ready"}"#))
        }
    }

    private func metrics(_ context: RequestContext) -> EventLoopFuture<HTTPResponse> {
        let http = httpMetrics
        return runtime.snapshot().map { snapshot in
            .text(
                .ok, context.allocator.buffer(string: PrometheusText.render(snapshot, http: http)),
                contentType: "text/plain; version=0.0.4; charset=utf-8")
        }
    }

    // MARK: - Parameters

    private func waitParameter(_ request: HTTPRequest) throws -> TimeAmount? {
        guard let text = request.query["wait"] else { return nil }
        guard let wait = parseWait(text) else {
            throw APIProblems.invalidParameter("wait must be a duration such as 30, 0.5, 30s or 500ms, not '\(text)'")
        }
        return min(wait, settings.maxWait)
    }

    private func integerParameter(_ request: HTTPRequest, _ name: String, default value: Int, range: ClosedRange<Int>)
        throws -> Int
    {
        guard let text = request.query[name] else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw APIProblems.invalidParameter(
                "\(name) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }
}

extension StringProtocol {
    func trimmingASCIISpaces() -> Substring {
        let text = Substring(self)
        guard let first = text.firstIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        guard let last = text.lastIndex(where: { $0 != " " && $0 != "\t" }) else { return "" }
        return text[first...last]
    }
}

extension BidirectionalCollection<UInt8> {
    /// Without leading and trailing spaces and tabs.
    fileprivate func trimmingASCIISpaces() -> SubSequence {
        let isSpace = { (byte: UInt8) in byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }
        let start = firstIndex { !isSpace($0) } ?? endIndex
        var rest = self[start...]
        while let last = rest.last, isSpace(last) { rest = rest.dropLast() }
        return rest
    }

    /// Whether the bytes are `lowercase` (ASCII letters in lowercase) in any case.
    fileprivate func equalsIgnoringASCIICase(_ lowercase: StaticString) -> Bool {
        guard count == lowercase.utf8CodeUnitCount else { return false }
        var index = 0
        for byte in self {
            let folded = byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
            if folded != lowercase.utf8Start[index] { return false }
            index += 1
        }
        return true
    }
}
