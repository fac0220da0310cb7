import AsyncHTTPClient
import Foundation
import SluiceCore
import SluiceMockUpstream
import SluiceStore
import SluiceTestSupport
import Testing

@Suite struct FailoverTests {
    /// Two shared accounts: "first" has the higher priority, so it is always tried first.
    func twoAccounts(_ h: Harness) async throws -> (first: Int64, second: Int64) {
        (try await h.account(secret: "first", priority: 10), try await h.account(secret: "second", priority: 0))
    }

    func servedBy(_ h: Harness) -> [String?] { h.control.requests.map { $0.authorization?.replacingOccurrences(of: "Bearer ", with: "") } }

    @Test func rateLimitFailsOverAndHonoursRetryAfter() async throws {
        try await Harness.run { h in
            let (first, _) = try await twoAccounts(h)
            h.control.set(.fail(status: 429, retryAfter: "120"), for: "first")
            let user = try await h.user()
            let before = Date()
            let reply = try await h.chat(user.key)
            #expect(reply.status == 200)
            #expect(servedBy(h) == ["first", "second"])
            let until = try #require(anyCooldown(h, first)?.coolingUntil)
            #expect(until >= before.addingTimeInterval(119) && until <= Date().addingTimeInterval(121))
            // While it cools, the first account is not asked again.
            _ = try await h.chat(user.key)
            #expect(servedBy(h) == ["first", "second", "second"])
        }
    }

    @Test(arguments: [MockBehavior.fail(status: 500), .fail(status: 503), .hang, .inBandError])
    func failureBeforeTheFirstByteTriesTheNextAccount(behavior: MockBehavior) async throws {
        try await Harness.run { h in
            let (first, _) = try await twoAccounts(h)
            h.control.set(behavior, for: "first")
            let user = try await h.user()
            let (response, events) = try await h.streamEvents(user.key)
            #expect(response.status == .ok)
            #expect(events.last == "[DONE]")
            #expect(servedBy(h) == ["first", "second"])
            #expect(anyCooldown(h, first)?.reason == .transient)
            // A failure before any output costs nothing; the served request costs its usage.
            await h.settled()
            let logs = try await h.gateway.store.usageLogs(userID: user.id)
            #expect(logs.count == 1)
            #expect(logs.first?.accountID == (try await h.gateway.store.enabledAccounts()).last?.id)
        }
    }

    @Test func neverTheSameAccountTwiceAndAtMostThree() async throws {
        try await Harness.run { h in
            for i in 0..<5 {
                try await h.account(secret: "a\(i)", priority: 10 - i)
                h.control.set(.fail(status: 500), for: "a\(i)")
            }
            let user = try await h.user()
            let reply = try await h.chat(user.key)
            #expect(reply.status == 502)
            #expect(reply.error?["type"] as? String == "server_error")
            #expect(servedBy(h) == ["a0", "a1", "a2"])
            await h.settled()
            #expect(try await h.gateway.store.balance(userID: user.id) == Credits(whole: 10))
        }
    }

    @Test func everyAccountCoolingGives429WithTheEarliestRetryAfter() async throws {
        // A clock that stands still: the Retry-After counts down from 40 only when time passes.
        try await Harness.run(clock: ManualClock(Date())) { h in
            try await h.account(secret: "a", priority: 1)
            try await h.account(secret: "b", priority: 0)
            h.control.set(.fail(status: 429, retryAfter: "300"), for: "a")
            h.control.set(.fail(status: 429, retryAfter: "40"), for: "b")
            let user = try await h.user()
            let first = try await h.chat(user.key)
            #expect(first.status == 429, "\(String(decoding: first.body, as: UTF8.self))")
            let again = try await h.chat(user.key)
            #expect(again.status == 429)
            #expect(again.error?["code"] as? String == "upstream_capacity")
            let retryAfter = try #require(again.headers.first(name: "retry-after").flatMap(Int.init))
            #expect((40...41).contains(retryAfter), "40 s and the cooldown's jitter")
            #expect(h.control.requests.count == 2, "cooling accounts must not be called")
            try await OpenAISchema.expectValid([("ErrorResponse", again.body)])
        }
    }

    @Test func failureAfterTheFirstByteEndsWithAnErrorEventAndNoDone() async throws {
        try await Harness.run { h in
            let (first, _) = try await twoAccounts(h)
            h.control.set(.breakStream(afterChunks: 3), for: "first")
            let user = try await h.user()
            let response = try await h.openStream(user.key)
            var reader = EventReader(response)
            var events: [String] = []
            while let event = try await reader.next() {
                events.append(event)
                if event.contains("answer comes") { break }
            }
            h.control.releaseGate()
            events += try await reader.rest()
            #expect(response.status == .ok)
            #expect(!events.contains("[DONE]"))
            let last = try #require(events.last)
            let error = try #require((try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])?["error"] as? [String: Any])
            #expect(error["type"] as? String == "server_error")
            #expect(servedBy(h) == ["first"], "no replay after the first byte")
            #expect(anyCooldown(h, first) != nil)
            try await OpenAISchema.expectValid([("ErrorResponse", Data(last.utf8))])
            // Output reached the client without usage: charged as an estimate, flagged as one.
            await h.settled()
            let log = try #require(try await h.gateway.store.usageLogs(userID: user.id).first)
            #expect(log.endReason == "upstream_error")
            #expect(log.costEstimated)
            #expect(log.charged > .zero)
        }
    }

    @Test func rotatedCookieReplacesTheStoredOne() async throws {
        try await Harness.run { h in
            let id = try await h.account(secret: "session=original; theme=dark", kind: .cookie)
            h.control.rotateCookies(true)
            let user = try await h.user()
            #expect(try await h.chat(user.key).status == 200)
            #expect(try await h.chat(user.key).status == 200)
            let cookies = h.control.requests.map(\.cookie)
            #expect(cookies == ["session=original; theme=dark", "session=rotated-1; theme=dark"])
            // The store holds the rotated cookie, encrypted.
            let stored = try #require(try await h.gateway.store.enabledAccounts().first { $0.id == id })
            #expect(try h.gateway.secrets.open(stored.secret) == "session=rotated-2; theme=dark")
            #expect(!String(decoding: stored.secret.ciphertext, as: UTF8.self).contains("rotated"))
        }
    }

    @Test func dedicatedAccountsComeBeforeSharedOnes() async throws {
        try await Harness.run { h in
            let user = try await h.user()
            try await h.account(secret: "shared", priority: 100)
            try await h.account(secret: "mine", priority: 0, owner: user.id)
            let other = try await h.user()
            _ = try await h.chat(user.key)
            _ = try await h.chat(other.key)
            #expect(servedBy(h) == ["mine", "shared"], "another user's dedicated account is never used for them")
        }
    }

    @Test(arguments: [false, true])
    func upstreamGarbageBeforeTheFirstByteFailsOver(stream: Bool) async throws {
        try await Harness.run { h in
            let (first, _) = try await twoAccounts(h)
            h.control.set(.garbage, for: "first")
            let user = try await h.user()
            let reply = try await h.chat(user.key, stream: stream)
            #expect(reply.status == 200)
            #expect(servedBy(h) == ["first", "second"])
            #expect(anyCooldown(h, first)?.reason == .transient)
        }
    }

    @Test func manifestHeaderAuthStyleSendsTheKeyInThatHeader() async throws {
        try await Harness.run { h in
            try await h.account(secret: "header-key", provider: "mock-header")
            let user = try await h.user()
            #expect(try await h.chat(user.key).status == 200)
            let seen = try #require(h.control.requests.last)
            #expect(seen.apiKeyHeader == "header-key")
            #expect(seen.authorization == nil)
        }
    }

    @Test func equalAccountsShareByRemainingQuotaWhenKnownElseRoundRobin() async throws {
        try await Harness.run { h in
            try await h.account(secret: "full")
            try await h.account(secret: "nearly-empty")
            let user = try await h.user()
            // Each request is a conversation of its own: one conversation would stay on one account.
            func chat() async throws { _ = try await h.chat(user.key, extra: #","user":"\#(UUID().uuidString)""#) }
            // Without quota figures: strict alternation.
            for _ in 0..<4 { try await chat() }
            let first = servedBy(h)
            #expect(Set(first.prefix(2)).count == 2 && first[0] == first[2] && first[1] == first[3])
            // Once both report their quota, the fuller account takes almost everything.
            h.control.reportQuota(remaining: 1000, limit: 1000, for: "full")
            h.control.reportQuota(remaining: 1, limit: 1000, for: "nearly-empty")
            // Until an account has answered since, its figure is unknown and counts as the average.
            let reported = h.control.requests.count
            for _ in 0..<40 where Set(servedBy(h).dropFirst(reported)).count < 2 { try await chat() }
            #expect(Set(servedBy(h).dropFirst(reported)).count == 2)
            let before = h.control.requests.count
            for _ in 0..<60 { try await chat() }
            let later = servedBy(h).dropFirst(before)
            #expect(later.filter { $0 == "full" }.count >= 55)
        }
    }

    @Test func upstreamRejectionOfTheRequestPassesThrough() async throws {
        try await Harness.run { h in
            try await h.account(secret: "first")
            h.control.set(.fail(status: 400), for: "first")
            let user = try await h.user()
            let reply = try await h.chat(user.key)
            // The upstream refused the request itself: the client sees that, and it costs nothing.
            #expect(reply.status == 400)
            #expect(reply.headers.first(name: "x-should-retry") == "false")
            #expect(reply.error != nil)
            #expect(h.control.requests.count == 1)
        }
    }
}

/// The account's cooldown in whichever scope the failure fell: these tests are about failover,
/// `CooldownScopeTests` about scopes.
func anyCooldown(_ h: Harness, _ account: Int64) -> CooldownState? {
    h.gateway.pool.cooldown(account) ?? h.gateway.pool.cooldown(account, scope: .model(Harness.model))
}
