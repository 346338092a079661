import FibCore
import NIOHTTP1

/// The problems the API answers with, one place for their slugs, titles and statuses
/// (fibd(8) lists the slugs; clients may rely on them).
enum APIProblems {
    static func invalidTask(_ detail: String) -> Problem {
        Problem(slug: "invalid-task", title: "Invalid task", status: .unprocessableEntity, detail: detail)
    }

    static func batchSize(count: Int, limit: Int) -> Problem {
        Problem(
            slug: "batch-too-large", title: "Batch size out of range", status: .unprocessableEntity,
            detail: count == 0
                ? "a batch must hold at least one task" : "a batch holds at most \(limit) tasks, not \(count)")
    }

    static func malformedJSON(_ detail: String) -> Problem {
        Problem(slug: "malformed-json", title: "Malformed JSON", status: .badRequest, detail: detail)
    }

    static func unsupportedMediaType(_ type: String) -> Problem {
        Problem(
            slug: "unsupported-media-type", title: "Unsupported media type", status: .unsupportedMediaType,
            detail: "the body must be JSON (application/json), not \(type)")
    }

    static func invalidParameter(_ detail: String) -> Problem {
        Problem(slug: "invalid-parameter", title: "Invalid parameter", status: .badRequest, detail: detail)
    }

    static func taskNotFound(_ id: String) -> Problem {
        Problem(
            slug: "task-not-found", title: "Task not found", status: .notFound,
            detail: "no task \(id): it never existed or it was forgotten after its retention time")
    }

    static func taskEnded(_ task: FibTask) -> Problem {
        Problem(
            slug: "task-ended", title: "Task already ended", status: .conflict,
            detail: "task \(task.id) already ended as \(task.state.rawValue); there is nothing to cancel",
            extensions: [("state", .string(task.state.rawValue))])
    }

    static func taskFailed(_ task: FibTask) -> Problem {
        Problem(
            slug: task.state == .timedOut ? "task-timed-out" : "task-failed",
            title: task.state == .timedOut ? "Task timed out" : "Task failed", status: .unprocessableEntity,
            detail:
                "task \(task.id) \(task.state.rawValue.replacing("_", with: " ")): \(task.error ?? "no reason given")",
            extensions: [("task", .string(task.id.description)), ("state", .string(task.state.rawValue))])
    }

    static func cursorExpired(head: UInt64) -> Problem {
        Problem(
            slug: "cursor-expired", title: "Cursor expired", status: .gone,
            detail: "events after this cursor are no longer kept (or it is from another run): "
                + "read the current state again, then follow the feed from 'next'",
            extensions: [("next", .number(JSONNumber(head)))])
    }

    static func refusal(_ refusal: SubmitRefusal) -> Problem {
        switch refusal {
        case .queueFull(let limit):
            return Problem(
                slug: "queue-full", title: "Queue full", status: .serviceUnavailable,
                detail: "\(limit) tasks are already waiting for a worker; try again later",
                headers: ["Retry-After": "1"])
        case .shuttingDown:
            return Problem(
                slug: "shutting-down", title: "Shutting down", status: .serviceUnavailable,
                detail: "fibd is stopping and takes no new tasks", headers: ["Retry-After": "5"])
        case .batchSize(let count, let limit):
            return batchSize(count: count, limit: limit)
        case .invalid(let index, let message):
            return invalidTask((index.map { "[\($0)]." } ?? "") + message)
        }
    }

    static func notFound(_ path: String) -> Problem {
        Problem(slug: "not-found", title: "Not found", status: .notFound, detail: "no such resource: \(path)")
    }

    static func methodNotAllowed(_ method: HTTPMethod, allowed: [HTTPMethod]) -> Problem {
        let names = allowed.map { "\($0)" }.joined(separator: ", ")
        return Problem(
            slug: "method-not-allowed", title: "Method not allowed", status: .methodNotAllowed,
            detail: "\(method) is not allowed here; use \(names)", headers: ["Allow": names])
    }
}

/// A refusal of the scheduler is answered with its problem.
extension SubmitRefusal: ProblemConvertible {
    public var problem: Problem { APIProblems.refusal(self) }
}
