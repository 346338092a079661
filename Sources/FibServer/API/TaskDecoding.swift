import FibCore
import FibMath

/// Turns a submit body into task requests, with messages that name the member at fault.
enum TaskDecoding {
    static let members: Set<String> = ["n", "algorithm", "priority", "timeout", "shared"]

    /// The requests of a body, and whether it was a batch (a JSON array).
    static func requests(from body: JSONValue, limits: SchedulerLimits) throws(Problem) -> ([TaskRequest], Bool) {
        switch body {
        case .object:
            return ([try request(from: body, path: "", limits: limits)], false)
        case .array(let elements):
            if elements.isEmpty || elements.count > limits.maxBatch {
                throw APIProblems.batchSize(count: elements.count, limit: limits.maxBatch)
            }
            var requests: [TaskRequest] = []
            requests.reserveCapacity(elements.count)
            for (index, element) in elements.enumerated() {
                requests.append(try request(from: element, path: "[\(index)].", limits: limits))
            }
            return (requests, true)
        default:
            throw APIProblems.malformedJSON("the body must be a task object or an array of them, not \(body.typeName)")
        }
    }

    /// One task object; `path` prefixes member names in messages ("[3].").
    static func request(from value: JSONValue, path: String, limits: SchedulerLimits) throws(Problem) -> TaskRequest {
        guard let members = value.objectMembers else {
            throw APIProblems.invalidTask("\(path.isEmpty ? "the task" : String(path.dropLast())) must be an object")
        }
        for (name, _) in members where !Self.members.contains(name) {
            throw APIProblems.invalidTask(
                "\(path)\(name) is not a task member (known: algorithm, n, priority, shared, timeout)")
        }
        guard let nValue = value["n"] else { throw APIProblems.invalidTask("\(path)n is required") }
        let algorithm: Algorithm
        switch value["algorithm"] {
        case nil, .null?:
            algorithm = .default
        case .string(let name)?:
            guard let known = Algorithm(rawValue: name) else {
                throw APIProblems.invalidTask("\(path)algorithm must be one of fast, recursive")
            }
            algorithm = known
        case let other?:
            throw APIProblems.invalidTask(
                "\(path)algorithm must be a string (fast or recursive), not \(other.typeName)")
        }
        let n = try naturalNumber(nValue, path: path, algorithm: algorithm, limits: limits)

        var priority = 0
        if let priorityValue = value["priority"], !priorityValue.isNull {
            guard let number = priorityValue.intValue, taskPriorityRange.contains(number) else {
                throw APIProblems.invalidTask(
                    "\(path)priority must be an integer from \(taskPriorityRange.lowerBound) to "
                        + "\(taskPriorityRange.upperBound)")
            }
            priority = number
        }
        var timeoutNanos: UInt64?
        if let timeoutValue = value["timeout"], !timeoutValue.isNull {
            let maxSeconds = Double(limits.maxTimeoutNanos) / Double(nanosPerSecond)
            guard let seconds = timeoutValue.doubleValue, seconds > 0, seconds <= maxSeconds else {
                throw APIProblems.invalidTask(
                    "\(path)timeout must be a number of seconds more than 0 and at most \(formatNumber(maxSeconds))")
            }
            timeoutNanos = max(1, UInt64(seconds * Double(nanosPerSecond)))
        }
        var shared = true
        switch value["shared"] {
        case nil, .null?:
            break
        case .bool(let flag)?:
            shared = flag
        case let other?:
            throw APIProblems.invalidTask("\(path)shared must be a boolean (true or false), not \(other.typeName)")
        }
        let request = TaskRequest(
            n: n, algorithm: algorithm, priority: priority, timeoutNanos: timeoutNanos, shared: shared)
        if let message = request.problem(under: limits) { throw APIProblems.invalidTask(path + message) }
        return request
    }

    /// n as a JSON number: a whole number within the algorithm's range.
    static func naturalNumber(_ value: JSONValue, path: String, algorithm: Algorithm, limits: SchedulerLimits)
        throws(Problem) -> UInt64
    {
        guard case .number(let number) = value, let n = number.uint64 else {
            throw APIProblems.invalidTask(rangeMessage(path: path, algorithm: algorithm, limits: limits))
        }
        return n
    }

    /// n from a path segment (GET /api/v1/fib/{n}).
    static func naturalNumber(_ text: Substring, algorithm: Algorithm, limits: SchedulerLimits) throws(Problem)
        -> UInt64
    {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let n = UInt64(text) else {
            throw APIProblems.invalidTask(rangeMessage(path: "", algorithm: algorithm, limits: limits))
        }
        return n
    }

    static func rangeMessage(path: String, algorithm: Algorithm, limits: SchedulerLimits) -> String {
        let top = algorithm == .recursive ? min(limits.maxN, 93) : limits.maxN
        return "\(path)n must be an integer from 0 to \(top)"
    }

    static func formatNumber(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
