import Foundation
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

@Suite struct UsageAPITests {
    @Test func logsFilterAndStatsBreakDown() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up")
            let user = try await h.signUp()
            try await h.fund(user)
            let a = try #require(try await h.api("/api/api-keys", method: .POST, body: #"{"name":"a"}"#, as: user).json?["key"] as? String)
            let bReply = try await h.api("/api/api-keys", method: .POST, body: #"{"name":"b"}"#, as: user)
            let b = try #require(bReply.json?["key"] as? String)
            let bID = try #require(bReply.json?["id"] as? Int)
            #expect(try await h.chat(a).status == 200)
            #expect(try await h.chat(a).status == 200)
            #expect(try await h.request("/v1/chat/completions", body: Harness.chatBody(model: "gpt-other", stream: false), key: b).status == 200)
            h.control.set(.fail(status: 500), for: "up")
            #expect(try await h.chat(b).status == 502)
            await h.settled()

            let logs = try await h.api("/api/usage/logs", as: user)
            #expect(logs.list.count == 4)
            #expect(try await h.api("/api/usage/logs?model=gpt-other", as: user).list.count == 1)
            #expect(try await h.api("/api/usage/logs?key_id=\(bID)", as: user).list.count == 2)
            #expect(try await h.api("/api/usage/logs?status=502", as: user).list.count == 1)
            #expect(try await h.api("/api/usage/logs?from=2099-01-01", as: user).list.isEmpty)
            #expect(try await h.api("/api/usage/logs?limit=3", as: user).json?["next_cursor"] is Int)
            #expect(try await h.api("/api/usage/logs?status=abc", as: user).status == 400)

            let stats = try await h.api("/api/usage/stats", as: user)
            #expect(stats.status == 200)
            let total = try #require(stats.json?["total"] as? [String: Any])
            #expect(total["requests"] as? Int == 4)
            #expect((total["error_rate"] as? Double) == 0.25)
            #expect(total["total_tokens"] as? Int ?? 0 > 0)
            #expect(total["cost_usd"] is NSNumber)
            let byModel = try #require(stats.json?["by_model"] as? [String: [String: Any]])
            #expect(byModel["gpt-test"]?["requests"] as? Int == 3 && byModel["gpt-other"]?["requests"] as? Int == 1)
            #expect((stats.json?["by_key"] as? [String: Any])?.count == 2)
            #expect((stats.json?["by_provider"] as? [String: Any])?["mock"] != nil)
            let today = String(ISO8601DateFormatter().string(from: Date()).prefix(10))
            #expect((stats.json?["by_day"] as? [String: [String: Any]])?[today]?["requests"] as? Int == 4)

            // Credits in stats equal what the ledger consumed.
            let consumed = try await h.gateway.store.ledger(userID: user.userID).filter { $0.kind == .consume }.reduce(Credits.zero) { $0 - $1.amount }
            struct Totals: Decodable { struct T: Decodable { var credits: Decimal }; var total: T }
            #expect(try stats.decode(Totals.self).total.credits == Decimal(string: consumed.description))
        }
    }

    @Test func usersSeeTheirOwnUsageAndAdminsAnyones() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up")
            let alice = try await h.signUp()
            try await h.fund(alice)
            let key = try #require(try await h.api("/api/api-keys", method: .POST, body: "{}", as: alice).json?["key"] as? String)
            #expect(try await h.chat(key).status == 200)
            await h.settled()
            let bob = try await h.signUp()
            #expect(try await h.api("/api/usage/logs", as: bob).list.isEmpty)
            #expect(try await h.api("/api/usage/logs?user_id=\(alice.userID)", as: bob).list.isEmpty)
            let admin = try await h.signInAdmin()
            #expect(try await h.api("/api/usage/logs?user_id=\(alice.userID)", as: admin).list.count == 1)
            #expect(try await h.api("/api/usage/logs?user_id=\(bob.userID)", as: admin).list.isEmpty)
            #expect(try await h.api("/api/usage/stats?user_id=\(alice.userID)", as: admin).json?["total"] as? [String: Any] != nil)
        }
    }
}
