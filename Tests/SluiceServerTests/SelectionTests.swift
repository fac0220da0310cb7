import AsyncHTTPClient
import Foundation
import SluiceCore
import SluiceMockUpstream
import SluiceServer
import SluiceStore
import SluiceTestSupport
import Testing

/// Issue 3, part 2: tiers and the owner's reserve, sticky conversations, waiting out a short
/// cooldown, and per-account concurrency with a bounded wait.
@Suite struct SelectionTests {
    func servedBy(_ h: Harness) -> [String?] { h.control.requests.map { $0.authorization?.replacingOccurrences(of: "Bearer ", with: "") } }

    func chat(_ h: Harness, _ key: String, session: String) async throws -> Harness.Reply {
        try await h.request("/v1/chat/completions", body: Harness.chatBody(stream: false), key: key, headers: [("x-session-id", session)])
    }

    @Test func dedicatedFirstFallsBackToTheSharedPoolWhenTheOwnAccountIsDown() async throws {
        try await Harness.run { h in
            let user = try await h.user()
            try await h.account(secret: "shared")
            try await h.account(secret: "mine", owner: user.id)
            // Retry-After sets the cooldown: without it the first backoff is one second, which a
            // loaded machine can outlast between two requests.
            h.control.set(.fail(status: 503, retryAfter: "60"), for: "mine")
            let reply = try await h.chat(user.key)
            #expect(reply.status == 200)
            #expect(servedBy(h) == ["mine", "shared"])
            // While it cools, the shared pool serves without trying it.
            #expect(try await h.chat(user.key).status == 200)
            #expect(servedBy(h) == ["mine", "shared", "shared"])
        }
    }

    @Test func anOwnersReserveIsKeptFromOtherUsers() async throws {
        try await Harness.run { h in
            let owner = try await h.user()
            let other = try await h.user()
            try await h.account(secret: "kept", owner: owner.id)
            try await h.account(secret: "surplus", owner: owner.id, sharing: AccountSharing(shareMode: .surplus, reservePercent: 50))
            // A private account never serves another user; the surplus one does while it has headroom.
            #expect(try await h.chat(other.key).status == 200)
            #expect(servedBy(h) == ["surplus"])
            // The provider reports 40 % left: below the owner's 50 % reserve.
            h.control.reportQuota(remaining: 40, limit: 100, for: "surplus")
            #expect(try await h.chat(other.key).status == 200)
            let refused = try await h.chat(other.key)
            #expect(refused.status == 503 && refused.error?["code"] as? String == "no_upstream_account")
            #expect(servedBy(h) == ["surplus", "surplus"])
            // The owner still uses both of their accounts.
            for i in 0..<6 { #expect(try await chat(h, owner.key, session: "owner-\(i)").status == 200) }
            #expect(Set(servedBy(h).dropFirst(2)) == ["kept", "surplus"])
        }
    }

    /// The wiring of sticky routing: `x-session-id` names the conversation. The timing rules (the
    /// grace, blips, the TTL) are `AccountSelectorTests`', on a test clock.
    @Test func aSessionHeaderBindsTheConversationPastItsAccountsRecovery() async throws {
        try await Harness.run { h in
            let high = try await h.account(secret: "high", priority: 10)
            try await h.account(secret: "low", priority: 0)
            let user = try await h.user()
            // A cooldown past the grace moves the conversation to "low" ...
            h.control.script([.fail(status: 429, retryAfter: "60"), .succeed], for: "high")
            #expect(try await chat(h, user.key, session: "moved").status == 200)
            // ... and it stays there once "high" is back (an admin's reset here), while a new
            // conversation goes to "high".
            await h.gateway.pool.reset(high)
            #expect(try await chat(h, user.key, session: "moved").status == 200)
            #expect(try await chat(h, user.key, session: "fresh").status == 200)
            #expect(servedBy(h) == ["high", "low", "low", "high"])
        }
    }

    @Test func aCooldownThatEndsInAMomentIsWaitedOut() async throws {
        let clock = ManualClock(Date())
        try await Harness.run(configure: { $0.accounts.waitForCooldownMillis = 3000 }, clock: clock) { h in
            let only = try await h.account(secret: "only")
            h.control.script([.fail(status: 429, retryAfter: "1"), .succeed], for: "only")
            let user = try await h.user()
            #expect(try await h.chat(user.key).status == 429)
            let cooledUntil = try #require(h.gateway.pool.cooldown(only, scope: .model(Harness.model))?.coolingUntil)
            #expect(try await h.chat(user.key).status == 200)
            #expect(clock.now() >= cooledUntil, "the second request waited for the cooldown to end")
            #expect(servedBy(h) == ["only", "only"])
        }
    }

    @Test func aBusyAccountRefusesARequestWhoseQueueWaitRunsOut() async throws {
        try await withTheOnlySlotHeld(queueTimeoutMillis: 300) { h, user, freeTheSlot in
            let started = ContinuousClock.now
            let refused = try await h.chat(user.key)
            #expect(ContinuousClock.now - started >= .milliseconds(300), "the request queued before it was refused")
            #expect(refused.status == 429 && refused.error?["code"] as? String == "upstream_capacity")
            #expect(refused.headers.first(name: "retry-after") != nil)
            #expect(h.control.requests.count == 1, "a busy account is not called past its cap")
            try await freeTheSlot()
        }
    }

    @Test func aQueuedRequestGetsTheSlotAsSoonAsItFrees() async throws {
        // The queue wait only bounds a failure: the request is served when the first stream ends,
        // however loaded the machine. It stays under the client's 30 s, so a lost slot shows as
        // the gateway's 429 rather than a client timeout.
        try await withTheOnlySlotHeld(queueTimeoutMillis: 20_000) { h, user, freeTheSlot in
            h.control.set(.succeed, for: "solo")
            async let waiting = h.chat(user.key)
            try await Task.sleep(for: .milliseconds(100))
            #expect(h.control.requests.count == 1, "the waiting request is not sent past the cap")
            try await freeTheSlot()
            let served = try await waiting
            #expect(served.status == 200, "\(String(decoding: served.body, as: UTF8.self))")
            #expect(h.control.requests.count == 2)
        }
    }

    /// Runs `body` on a gateway whose only account takes one request at a time, while a gated
    /// stream holds that slot. `freeTheSlot` opens the gate and reads the stream to its end. The
    /// stream's read timeout stays above any queue wait here, so only the gate ends it.
    private func withTheOnlySlotHeld(
        queueTimeoutMillis: Int, _ body: (Harness, Harness.User, _ freeTheSlot: () async throws -> Void) async throws -> Void
    ) async throws {
        try await Harness.run(configure: {
            $0.accounts.queueTimeoutMillis = queueTimeoutMillis
            $0.upstream.readTimeoutSeconds = 60
        }) { h in
            try await h.account(secret: "solo", sharing: AccountSharing(maxConcurrency: 1))
            h.control.set(.gated, for: "solo")
            let user = try await h.user()
            var reader = EventReader(try await h.openStream(user.key))
            #expect(try await reader.next() != nil)
            try await body(h, user) {
                h.control.releaseGate()
                _ = try await reader.rest()
            }
        }
    }
}
