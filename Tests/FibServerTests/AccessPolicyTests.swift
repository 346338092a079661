import FibCore
import NIOHTTP1
import Testing

@testable import FibServer

@Suite struct AccessPolicyTests {
    let token = Array("s3cret-token-0123456789".utf8)

    @Test func comparesWholeTokensOnly() {
        #expect(AccessPolicy.constantTimeEquals(token, token))
        #expect(!AccessPolicy.constantTimeEquals(Array(token.dropLast()), token))
        #expect(!AccessPolicy.constantTimeEquals(token + [0x41], token))
        #expect(!AccessPolicy.constantTimeEquals([], token))
        var flipped = token
        flipped[5] ^= 1
        #expect(!AccessPolicy.constantTimeEquals(flipped, token))
    }

    @Test func readsBearerCredentials() {
        #expect(AccessPolicy.bearerCredentials("Bearer abc") == Array("abc".utf8))
        #expect(AccessPolicy.bearerCredentials("bEaReR   abc") == Array("abc".utf8))
        #expect(AccessPolicy.bearerCredentials("Bearer") == nil)
        #expect(AccessPolicy.bearerCredentials("Bearer ") == nil)
        #expect(AccessPolicy.bearerCredentials("Basic abc") == nil)
        #expect(AccessPolicy.bearerCredentials("Bearerabc") == nil)
    }

    @Test func guardsByScope() {
        let mutating = AccessPolicy(token: token, scope: .mutating)
        #expect(!mutating.guards(method: .GET, path: "/api/v1/tasks"))
        #expect(!mutating.guards(method: .HEAD, path: "/"))
        #expect(mutating.guards(method: .POST, path: "/api/v1/tasks"))
        #expect(mutating.guards(method: .DELETE, path: "/api/v1/tasks/1"))
        let all = AccessPolicy(token: token, scope: .all)
        #expect(all.guards(method: .GET, path: "/api/v1/status"))
        #expect(!all.guards(method: .GET, path: "/healthz"))
        #expect(!all.guards(method: .HEAD, path: "/readyz"))
        #expect(all.guards(method: .POST, path: "/healthz"))
        #expect(!AccessPolicy.open.guards(method: .DELETE, path: "/api/v1/tasks/1"))
    }

    @Test func answersWithTheChallenge() {
        let policy = AccessPolicy(token: token, scope: .mutating)
        let missing = policy.check(method: .POST, path: "/api/v1/tasks", headers: [:])
        #expect(missing?.status == .unauthorized)
        #expect(missing?.headers.first(name: "www-authenticate") == #"Bearer realm="fibd""#)
        let wrong = policy.check(method: .POST, path: "/api/v1/tasks", headers: ["Authorization": "Bearer nope"])
        #expect(wrong?.headers.first(name: "www-authenticate")?.contains("invalid_token") == true)
        let twice: HTTPHeaders = [
            "Authorization": "Bearer s3cret-token-0123456789", "authorization": "Bearer s3cret-token-0123456789",
        ]
        #expect(policy.check(method: .POST, path: "/api/v1/tasks", headers: twice) != nil)
        let right: HTTPHeaders = ["Authorization": "Bearer s3cret-token-0123456789"]
        #expect(policy.check(method: .POST, path: "/api/v1/tasks", headers: right) == nil)
    }

    @Test func servedDocumentCarriesLimitsAndSecurity() throws {
        var limits = SchedulerLimits()
        limits.maxN = 5000
        limits.maxTimeoutNanos = 2_500_000_000
        limits.maxBatch = 7
        let text = OpenAPIDocument.served(limits: limits, access: AccessPolicy(token: token, scope: .mutating))
        let document = try JSONParser.parse(text, maxDepth: 256)
        let submission = document["components"]?["schemas"]?["TaskSubmission"]
        #expect(submission?["properties"]?["n"]?["maximum"]?.intValue == 5000)
        #expect(submission?["properties"]?["timeout"]?["maximum"]?.doubleValue == 2.5)
        #expect(document["components"]?["schemas"]?["TaskBatch"]?["maxItems"]?.intValue == 7)
        let submit = document["paths"]?["/api/v1/tasks"]?["post"]
        #expect(submit?["security"] != nil)
        #expect(submit?["responses"]?["401"] != nil)
        #expect(document["paths"]?["/api/v1/tasks"]?["get"]?["security"] == nil)
        let open = try JSONParser.parse(OpenAPIDocument.served(limits: SchedulerLimits(), access: .open), maxDepth: 256)
        #expect(open == (try JSONParser.parse(OpenAPIDocument.json, maxDepth: 256)))
    }

    @Test func waitsAreClampedAndTimeoutsTakeJSONNumbers() {
        #expect(parseWait("30") == .seconds(30))
        #expect(parseWait("99999999999999999999999") != nil)
        #expect(parseWait("077328163647.01358714925m") != nil)
        #expect(parseWait("1h") == nil)
        #expect(parseWait("-1") == nil)
        #expect(parseTimeoutNanos("5e-324") == 1)
        #expect(parseTimeoutNanos("0.0000000001") == 1)
        #expect(parseTimeoutNanos("1e-3") == 1_000_000)
        #expect(parseTimeoutNanos("2m") == 120_000_000_000)
        #expect(parseTimeoutNanos("0") == nil)
        #expect(parseTimeoutNanos("-1") == nil)
        #expect(parseTimeoutNanos("nan") == nil)
    }

    /// The byte-level fast path of waits gives what the general parser gives, and nothing for other forms.
    @Test func wholeWaitsMatchTheGeneralParser() {
        let texts = [
            "0", "1", "10", "10s", "500ms", "999999", "999999s", "999999ms", "1000000", "10m", "1.5", "1.5s",
            "", "s", "ms", "m", "-1", "+1", "1 s", "1S", "１", "0010", "7ms ", "abc",
        ]
        for text in texts {
            if let fast = wholeDurationNanos(text) {
                #expect(fast == parseDurationNanos(text), "\(text)")
                #expect(parseWait(text) == .nanoseconds(Int64(fast)), "\(text)")
            }
        }
        #expect(wholeDurationNanos("10s") == 10_000_000_000)
        #expect(wholeDurationNanos("500ms") == 500_000_000)
        #expect(wholeDurationNanos("1.5s") == nil)
        #expect(wholeDurationNanos("10m") == nil)
        #expect(wholeDurationNanos("1000000") == nil)
        #expect(parseWait("1.5s") == .milliseconds(1500))
        #expect(parseWait("2m") == .seconds(120))
    }

    @Test func jsonContentTypes() {
        for accepted in [
            "application/json", "Application/JSON", "application/json; charset=utf-8", " application/json ",
            "application/problem+json", "application/x-www-form-urlencoded", "", ";application/json", "  ; x",
        ] {
            #expect(APIResponder.isJSONContentType(accepted), "\(accepted)")
        }
        for refused in ["text/plain", "application/xml", "json", "application/jsonx", "; charset=utf-8", "+jso"] {
            #expect(!APIResponder.isJSONContentType(refused), "\(refused)")
        }
    }
}
