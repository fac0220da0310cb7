import Foundation
import SluiceCore
import SluiceMockUpstream
import SluiceServer
import SluiceStore
import SluiceTestSupport
import Testing

/// Issue 3, part 1: cooldowns per scope, early verification, needs re-auth, and restarts. The
/// clock the verification runs on is the test's: `verifyDue(now:)` takes it.
@Suite struct CooldownScopeTests {
    func twoAccounts(_ h: Harness) async throws -> (first: Int64, second: Int64) {
        (try await h.account(secret: "first", priority: 10), try await h.account(secret: "second", priority: 0))
    }

    func servedBy(_ h: Harness) -> [String?] { h.control.requests.map { $0.authorization?.replacingOccurrences(of: "Bearer ", with: "") } }

    func chat(_ h: Harness, _ key: String, model: String) async throws -> Harness.Reply {
        try await h.request("/v1/chat/completions", body: Harness.chatBody(model: model, stream: false), key: key)
    }

    @Test func anEarlyResetIsNoticedByTheVerificationProbe() async throws {
        try await Harness.run { h in
            let first = try await h.account(secret: "first")
            h.control.set(.fail(status: 429, retryAfter: "7200"), for: "first")
            let user = try await h.user()
            #expect(try await h.chat(user.key).status == 429)
            let cooldown = try #require(h.gateway.pool.cooldown(first, scope: .model(Harness.model)))
            let verifyAt = try #require(cooldown.verifyAt)
            #expect(abs(verifyAt.timeIntervalSinceNow - 15 * 60) < 5)

            // The provider resets early. Before the verify time nothing is probed.
            h.control.set(.succeed, for: "first")
            await h.gateway.pool.verifyDue(now: Date())
            #expect(h.gateway.pool.cooldown(first, scope: .model(Harness.model)) != nil)
            await h.gateway.pool.verifyDue(now: verifyAt.addingTimeInterval(1))
            #expect(h.gateway.pool.cooldown(first, scope: .model(Harness.model)) == nil)
            #expect(try await h.chat(user.key).status == 200)
            #expect(servedBy(h).count == 3)  // the 429, the probe, the request served
        }
    }

    @Test func a429WithoutHintCoolsOneModelOnOneAccountForSeconds() async throws {
        try await Harness.run { h in
            let (first, second) = try await twoAccounts(h)
            h.control.script([.fail(status: 429), .succeed], for: "first")
            let user = try await h.user()
            #expect(try await h.chat(user.key).status == 200)
            let cooling = try #require(h.gateway.pool.cooldown(first, scope: .model(Harness.model))?.coolingUntil)
            #expect(cooling.timeIntervalSinceNow <= 8)
            #expect(h.gateway.pool.cooldown(first) == nil)
            #expect(h.gateway.pool.cooldown(second, scope: .model(Harness.model)) == nil)
            // The other model still goes to the first account.
            #expect(try await chat(h, user.key, model: "gpt-other").status == 200)
            #expect(servedBy(h) == ["first", "second", "first"])
        }
    }

    @Test func aCredentialErrorCoolsTheWholeAccount() async throws {
        try await Harness.run { h in
            let (first, _) = try await twoAccounts(h)
            h.control.script([.fail(status: 403, retryAfter: "600"), .succeed], for: "first")
            let user = try await h.user()
            #expect(try await h.chat(user.key).status == 200)
            #expect(h.gateway.pool.cooldown(first)?.reason == .quotaExhausted)
            #expect(try await chat(h, user.key, model: "gpt-other").status == 200)
            #expect(servedBy(h) == ["first", "second", "second"])
        }
    }

    @Test func successOnAnotherModelDoesNotClearAnAccountCooldown() async throws {
        try await Harness.run { h in
            let (first, _) = try await twoAccounts(h)
            // As if a request on gpt-other was already running when the account was cooled.
            await h.gateway.pool.recordFailure(first, FailureAssessment(.quotaExhausted, .account), resetAt: Date().addingTimeInterval(600))
            await h.gateway.pool.recordSuccess(first, model: "gpt-other")
            #expect(h.gateway.pool.cooldown(first)?.isCooling(at: Date()) == true)
            // A model cooldown is cleared by a success on that model.
            await h.gateway.pool.recordFailure(first, FailureAssessment(.rateLimited, .model("gpt-other")), resetAt: nil)
            await h.gateway.pool.recordSuccess(first, model: "gpt-other")
            #expect(h.gateway.pool.cooldown(first, scope: .model("gpt-other")) == nil)
        }
    }

    @Test func aRejectedCredentialIsRecheckedOnceThenNeedsReauth() async throws {
        try await Harness.run { h in
            let (first, _) = try await twoAccounts(h)
            h.control.set(.fail(status: 401), for: "first")
            let user = try await h.user()
            #expect(try await h.chat(user.key).status == 200)
            let cooldown = try #require(h.gateway.pool.cooldown(first))
            #expect(cooldown.reason == .unauthorized)
            #expect(!h.gateway.pool.needsReauth(first))
            await h.gateway.pool.verifyDue(now: try #require(cooldown.verifyAt).addingTimeInterval(0.1))
            #expect(h.gateway.pool.needsReauth(first))
            // It stays out after a refresh from the store, until its owner gives it a new secret.
            try await h.gateway.pool.reload()
            #expect(h.gateway.pool.needsReauth(first))
            try await h.gateway.store.updateAccountSecret(id: first, try h.gateway.secrets.seal("first"))
            try await h.gateway.pool.reload()
            #expect(!h.gateway.pool.needsReauth(first))
        }
    }

    @Test func aRestartKeepsLiveCooldownsAndDropsExpiredOnes() async throws {
        let directory = NSTemporaryDirectory() + "sluice-restart-\(UUID().uuidString)"
        var ids: (first: Int64, second: Int64) = (0, 0)
        let clock = ManualClock(Date())
        try await Harness.run(directory: directory, clock: clock) { h in
            ids = try await twoAccounts(h)
            h.control.set(.fail(status: 429, retryAfter: "3600"), for: "first")
            h.control.set(.fail(status: 429, retryAfter: "1"), for: "second")
            let user = try await h.user()
            #expect(try await h.chat(user.key).status == 429)
            #expect(try await h.gateway.store.liveCooldowns(now: clock.now()).count == 2)
        }
        clock.advance(by: 1.6)  // past the one-second cooldown and its jitter
        try await Harness.run(directory: directory, clock: clock) { h in
            let live = try #require(h.gateway.pool.cooldown(ids.first, scope: .model(Harness.model)))
            #expect(live.isCooling(at: clock.now()) && live.reason == .rateLimited)
            #expect(h.gateway.pool.cooldown(ids.second, scope: .model(Harness.model)) == nil)
            #expect(try await h.gateway.store.liveCooldowns(now: clock.now()).map(\.accountID) == [ids.first])
        }
    }
}
