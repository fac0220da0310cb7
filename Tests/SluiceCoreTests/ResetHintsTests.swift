import Foundation
import Testing
@testable import SluiceCore

@Suite struct ResetHintsTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let all = Set(ResetHintSource.allCases)

    func reset(_ headers: [String: String], body: String? = nil, sources: Set<ResetHintSource>? = nil) -> TimeInterval? {
        ResetHints.resetTime(header: { headers[$0] }, body: body.map { Data($0.utf8) }, sources: sources ?? all, now: now)
            .map { $0.timeIntervalSince(now) }
    }

    @Test(arguments: [("6m0s", 360.0), ("1.5s", 1.5), ("20ms", 0.02), ("1h2m3s", 3723.0), ("250us", 0.00025), ("30s", 30.0)])
    func goDurations(text: String, seconds: Double) {
        #expect(abs(Durations.parse(text)! - seconds) < 1e-9)
    }

    @Test(arguments: ["", "abc", "5", "1.5x", "s"])
    func badDurations(text: String) { #expect(Durations.parse(text) == nil) }

    @Test func retryAfterWinsAsSecondsOrHTTPDate() {
        #expect(reset(["retry-after": "7", "x-ratelimit-reset-requests": "1m"]) == 7)
        #expect(reset(["retry-after": "Fri, 15 Jan 2027 08:00:10 GMT"]) == Date(timeIntervalSince1970: 1_800_000_010).timeIntervalSince(now))
    }

    @Test func theExhaustedLimitDecidesElseTheLatest() {
        let both = ["x-ratelimit-reset-requests": "2s", "x-ratelimit-reset-tokens": "6m0s"]
        #expect(reset(both) == 360)
        #expect(reset(both.merging(["x-ratelimit-remaining-requests": "0", "x-ratelimit-remaining-tokens": "5000"]) { $1 }) == 2)
    }

    @Test func resetAsEpochOrSeconds() {
        #expect(reset(["x-ratelimit-reset": "1800000090"]) == 90)
        #expect(reset(["x-ratelimit-reset": "12"]) == 12)
    }

    @Test func anthropicRFC3339() {
        #expect(reset(["anthropic-ratelimit-requests-reset": "2027-01-15T08:01:00Z"]) == 60)
        #expect(reset(["anthropic-ratelimit-tokens-reset": "2027-01-15T08:00:30.500Z"]) == 30.5)
    }

    @Test func googleBodies() {
        let delay = #"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"42s"}]}}"#
        #expect(reset([:], body: delay) == 42)
        let stamp = #"{"error":{"details":[{"metadata":{"quotaResetTimeStamp":"2027-01-15T09:00:00Z"}}]}}"#
        #expect(reset([:], body: stamp) == 3600)
        #expect(reset([:], body: "<html>") == nil)
    }

    @Test func onlyTheManifestsSourcesAreRead() {
        let headers = ["x-ratelimit-reset": "12", "anthropic-ratelimit-requests-reset": "2027-01-15T08:01:00Z"]
        #expect(reset(headers, sources: [.retryAfter]) == nil)
        #expect(reset(headers, sources: [.resetSeconds]) == 12)
    }
}

@Suite struct CooldownRulesTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    let policy = CooldownPolicy()

    @Test func longCooldownsAreVerifiedEarly() {
        var state = CooldownState()
        state.recordFailure(.quotaExhausted, resetAt: now.addingTimeInterval(3600 * 24), now: now, policy: policy)
        #expect(state.verifyAt == now.addingTimeInterval(15 * 60))
        // A quarter of the remaining time when that is sooner: 20 min left → 5 min.
        var short = CooldownState()
        short.recordFailure(.quotaExhausted, resetAt: now.addingTimeInterval(20 * 60), now: now, policy: policy)
        #expect(short.verifyAt == now.addingTimeInterval(5 * 60))
        var brief = CooldownState()
        brief.recordFailure(.quotaExhausted, resetAt: now.addingTimeInterval(10 * 60), now: now, policy: policy)
        #expect(brief.verifyAt == nil)
    }

    @Test func aFailedProbeSchedulesTheNextWhileTheWaitIsLong() {
        var state = CooldownState()
        state.recordFailure(.quotaExhausted, resetAt: now.addingTimeInterval(3600), now: now, policy: policy)
        // At 15 min, 45 min remain: the next probe is a quarter of that later.
        state.verificationFailed(now: now.addingTimeInterval(15 * 60), policy: policy)
        #expect(state.verifyAt == now.addingTimeInterval(15 * 60 + 45 * 60 / 4))
        state.verificationFailed(now: now.addingTimeInterval(50 * 60), policy: policy)
        #expect(state.verifyAt == nil)
    }

    @Test func theLevelDecaysAfterAQuietPeriod() {
        var state = CooldownState()
        state.recordFailure(.transient, resetAt: nil, now: now, policy: policy)
        state.recordFailure(.transient, resetAt: nil, now: now.addingTimeInterval(2), policy: policy)
        #expect(state.level == 2)
        state.recordFailure(.transient, resetAt: nil, now: now.addingTimeInterval(3600), policy: policy)
        #expect(state.level == 1)
        #expect(state.coolingUntil == now.addingTimeInterval(3601))
    }

    @Test func aRateLimitWithoutHintCoolsSecondsAtMost() {
        var state = CooldownState()
        var at = now
        for _ in 0..<20 {
            at = (state.coolingUntil ?? at).addingTimeInterval(0.001)
            state.recordFailure(.rateLimited, resetAt: nil, now: at, policy: policy)
        }
        #expect(state.coolingUntil!.timeIntervalSince(at) <= 8)
    }

    @Test func failuresAreScopedByWhatTheySay() {
        #expect(FailureAssessment.response(status: 429, body: nil, model: "m") == .init(.rateLimited, .model("m")))
        let quota = Data(#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#.utf8)
        #expect(FailureAssessment.response(status: 429, body: quota, model: "m") == .init(.quotaExhausted, .account))
        #expect(FailureAssessment.response(status: 401, body: nil, model: "m") == .init(.unauthorized, .account))
        #expect(FailureAssessment.response(status: 403, body: nil, model: "m") == .init(.quotaExhausted, .account))
        #expect(FailureAssessment.response(status: 404, body: nil, model: "m") == .init(.modelUnavailable, .model("m")))
        #expect(FailureAssessment.response(status: 503, body: nil, model: "m") == .init(.transient, .model("m")))
    }
}
