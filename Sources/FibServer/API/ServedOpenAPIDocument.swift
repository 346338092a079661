import FibCore
import FibMath
import NIOCore
import NIOHTTP1

/// The OpenAPI document as one daemon serves it: the written document with this daemon's limits
/// (largest n, timeout and batch) and, when a token is configured, the operations it guards.
/// So a client or a fuzzer that trusts the document sends only what this daemon accepts.
extension OpenAPIDocument {
    public static func served(limits: SchedulerLimits, access: AccessPolicy) -> String {
        guard var document = try? JSONParser.parse(json, maxDepth: 256) else { return json }
        let maxN = JSONValue.number(JSONNumber(limits.maxN))
        let maxTimeout = JSONValue.seconds(seconds(limits.maxTimeoutNanos))
        let fib: [DocumentStep] = [.key("paths"), .key("/api/v1/fib/{n}"), .key("get"), .key("parameters")]
        let submission: [DocumentStep] = [.key("components"), .key("schemas"), .key("TaskSubmission")]
        let properties = submission + [.key("properties")]
        let replacements: [([DocumentStep], JSONValue)] = [
            (fib + [.parameter("n"), .key("schema"), .key("maximum")], maxN),
            (fib + [.parameter("timeout"), .key("schema"), .key("maximum")], maxTimeout),
            (properties + [.key("n"), .key("maximum")], maxN),
            (properties + [.key("timeout"), .key("maximum")], maxTimeout),
            (
                submission + [.key("then"), .key("properties"), .key("n"), .key("maximum")],
                .number(JSONNumber(min(limits.maxN, Fibonacci.maxRecursiveN)))
            ),
            (
                [.key("components"), .key("schemas"), .key("TaskBatch"), .key("maxItems")],
                .number(JSONNumber(limits.maxBatch))
            ),
        ]
        for (path, value) in replacements {
            document = document.replacing(at: path[...]) { _ in value }
        }
        if access.token != nil {
            document = document.replacing(at: [.key("paths")]) { paths in
                guard case .object(let items) = paths else { return paths }
                return .object(items.map { path, item in (path, guarded(item, path: path, access: access)) })
            }
        }
        var writer = JSONWriter(allocator: .init(), capacity: json.utf8.count)
        writer.value(document)
        return String(buffer: writer.buffer)
    }

    /// A path item whose guarded operations name the bearer scheme and the 401 answer.
    private static func guarded(_ item: JSONValue, path: String, access: AccessPolicy) -> JSONValue {
        guard case .object(let operations) = item else { return item }
        let unauthorized = JSONValue.object([("$ref", .string("#/components/responses/Unauthorized"))])
        return .object(
            operations.map { method, operation in
                guard access.guards(method: HTTPMethod(rawValue: method.uppercased()), path: path),
                    case .object(var members) = operation
                else { return (method, operation) }
                members.append(("security", .array([.object([("bearerToken", .array([]))])])))
                if let index = members.firstIndex(where: { $0.0 == "responses" }),
                    case .object(var codes) = members[index].1
                {
                    codes.append(("401", unauthorized))
                    members[index].1 = .object(codes)
                }
                return (method, .object(members))
            })
    }
}

/// One step into the document: an object member, or the parameter with this name in an array.
enum DocumentStep {
    case key(String)
    case parameter(String)
}

extension JSONValue {
    /// The value with the node at `path` transformed; unchanged where the path leads nowhere.
    func replacing(at path: ArraySlice<DocumentStep>, _ transform: (JSONValue) -> JSONValue) -> JSONValue {
        guard let step = path.first else { return transform(self) }
        let rest = path.dropFirst()
        switch (step, self) {
        case (.key(let name), .object(var members)):
            guard let index = members.firstIndex(where: { $0.0 == name }) else { return self }
            members[index].1 = members[index].1.replacing(at: rest, transform)
            return .object(members)
        case (.parameter(let name), .array(var elements)):
            guard let index = elements.firstIndex(where: { $0["name"] == .string(name) }) else { return self }
            elements[index] = elements[index].replacing(at: rest, transform)
            return .array(elements)
        default:
            return self
        }
    }

    func replacing(at path: [DocumentStep], _ transform: (JSONValue) -> JSONValue) -> JSONValue {
        replacing(at: path[...], transform)
    }

    /// Seconds as a JSON number: whole seconds as an integer.
    static func seconds(_ value: Double) -> JSONValue {
        if value == value.rounded(), abs(value) < 1e15 { return .number(JSONNumber(Int(value))) }
        return JSONNumber(value).map(JSONValue.number) ?? .null
    }
}
