import Foundation
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

/// Issue 3, parts 3 and 5: the shared-pool allowance and `/api/quotas`, owners' accounts under
/// `/api/accounts`, and the admin's view of every account.
@Suite struct AccountAPITests {
    func key(_ h: Harness, _ session: Harness.Session) async throws -> String {
        try #require(try await h.api("/api/api-keys", method: .POST, body: "{}", as: session).json?["key"] as? String)
    }

    @Test func oneHeavyUserExhaustsTheirAllowanceWhileOthersAreServed() async throws {
        try await Harness.run(configure: {
            $0.plans["free"]?.poolCapacity = 30
            $0.plans["free"]?.poolRecoveryPerHour = 36
        }) { h in
            try await h.account(secret: "shared")
            let heavy = try await h.signUp()
            let light = try await h.signUp()
            try await h.fund(heavy)
            try await h.fund(light)
            let heavyKey = try await key(h, heavy)
            let lightKey = try await key(h, light)
            var refused: Harness.Reply?
            for _ in 0..<5 {
                let reply = try await h.chat(heavyKey)
                if reply.status != 200 { refused = reply; break }
            }
            let limited = try #require(refused)
            #expect(limited.status == 429 && limited.error?["code"] as? String == "pool_allowance_exhausted")
            let retryAfter = try #require(limited.headers.first(name: "retry-after").flatMap(Int.init))
            #expect(retryAfter >= 1 && retryAfter <= 3600)
            #expect(try await h.chat(lightKey).status == 200)

            let quota = try await h.api("/api/quotas", as: heavy)
            let mock = try #require((quota.json?["data"] as? [[String: Any]])?.first { $0["group"] as? String == "mock" })
            #expect(mock["available"] as? Int == 0 && mock["capacity"] as? Int == 30 && mock["unit"] as? String == "tokens")
            #expect(mock["usable_at"] is String && mock["refills_at"] is String)
            let fresh = try #require((try await h.api("/api/quotas", as: light).json?["data"] as? [[String: Any]])?.first)
            #expect(fresh["usable_at"] as? String == nil && (fresh["available"] as? Int ?? 0) > 0)

            // The allowance is for the shared pool only: the heavy user's own account still serves them.
            let added = try await h.api("/api/accounts", method: .POST, body: #"{"provider":"mock","secret":"heavy-own"}"#, as: heavy)
            #expect(added.status == 201)
            #expect(try await h.chat(heavyKey).status == 200)
            #expect(h.control.requests.last?.authorization == "Bearer heavy-own")
        }
    }

    /// A model's allowance group is the provider of the account that serves it, for the check as
    /// for the spend. Here the lowest-id account serving the model is another user's private one
    /// of provider `mock`, and the shared one is `mock-header`: a check that read `mock` would
    /// never see the spends and would serve this user for ever.
    @Test func theAllowanceCheckedIsTheOneTheServingProviderSpends() async throws {
        try await Harness.run(configure: {
            $0.plans["free"]?.poolCapacity = 30
            $0.plans["free"]?.poolRecoveryPerHour = 36
        }) { h in
            let owner = try await h.user()
            try await h.account(secret: "private", owner: owner.id)
            try await h.account(secret: "shared", provider: "mock-header")
            let heavy = try await h.signUp()
            try await h.fund(heavy)
            let heavyKey = try await key(h, heavy)
            var refused: Harness.Reply?
            for _ in 0..<5 {
                let reply = try await h.chat(heavyKey)
                if reply.status != 200 { refused = reply; break }
            }
            let limited = try #require(refused, "the shared tier must close once the serving provider's allowance is spent")
            #expect(limited.status == 429 && limited.error?["code"] as? String == "pool_allowance_exhausted")
            let quota = try await h.api("/api/quotas", as: heavy)
            let spent = try #require((quota.json?["data"] as? [[String: Any]])?.first { $0["group"] as? String == "mock-header" })
            #expect(spent["available"] as? Int == 0)
            // The private account's owner is not limited by what another user spent.
            #expect(try await h.chat(owner.key).status == 200)
        }
    }

    @Test func trustLevelsAndContributingRaiseTheAllowance() async throws {
        try await Harness.run(configure: {
            $0.plans["free"]?.poolCapacity = 1000
            $0.plans["free"]?.poolRecoveryPerHour = 100
            $0.plans["free"]?.poolUnit = "requests"
        }) { h in
            try await h.account(secret: "shared")
            let admin = try await h.signInAdmin()
            let trusted = try await h.signUp()
            let newcomer = try await h.signUp()
            let promoted = try await h.api("/api/admin/users/\(trusted.userID)", method: .PATCH, body: #"{"trust_level":4}"#, as: admin)
            #expect(promoted.status == 200)
            func mock(_ session: Harness.Session) async throws -> (capacity: Int?, perHour: Int?, trust: Int?) {
                let reply = try await h.api("/api/quotas", as: session)
                let group = (reply.json?["data"] as? [[String: Any]])?.first { $0["group"] as? String == "mock" }
                return (group?["capacity"] as? Int, group?["recovery_per_hour"] as? Int, reply.json?["trust_level"] as? Int)
            }
            // 25 % per level by default: level 4 doubles the plan's allowance.
            #expect(try await mock(trusted) == (2000, 200, 4))
            #expect(try await mock(newcomer) == (1000, 100, 0))
            // Sharing an account of their own adds the contributor bonus (50 %) on top.
            let shared = try await h.api(
                "/api/accounts", method: .POST, body: #"{"provider":"mock","secret":"trusted-own","share_mode":"surplus"}"#, as: trusted)
            #expect(shared.status == 201)
            #expect(try await mock(trusted) == (2500, 250, 4))
        }
    }

    @Test func ownersManageTheirAccountsAndNobodyElseSeesThem() async throws {
        try await Harness.run { h in
            let owner = try await h.signUp()
            let stranger = try await h.signUp()
            let secret = "canary-upstream-secret-\(UUID().uuidString.prefix(6))"
            let created = try await h.api(
                "/api/accounts", method: .POST,
                body: #"{"provider":"mock","secret":"\#(secret)","models":["gpt-test"],"share_mode":"surplus","reserve_percent":30,"max_concurrency":4}"#,
                as: owner)
            #expect(created.status == 201)
            #expect(!String(decoding: created.body, as: UTF8.self).contains(secret))
            let id = try #require(created.json?["id"] as? Int)
            #expect(created.json?["share_mode"] as? String == "surplus" && created.json?["reserve_percent"] as? Int == 30)
            #expect(created.json?["max_concurrency"] as? Int == 4 && created.json?["state"] as? String == "ok")
            #expect(h.gateway.pool.isContributor(owner.userID))

            // Another user's account is not found, whatever they try.
            #expect(try await h.api("/api/accounts/\(id)", method: .PATCH, body: #"{"priority":5}"#, as: stranger).status == 404)
            #expect(try await h.api("/api/accounts/\(id)", method: .DELETE, as: stranger).status == 404)
            #expect((try await h.api("/api/accounts", as: stranger).json?["data"] as? [Any])?.isEmpty == true)

            let changed = try await h.api(
                "/api/accounts/\(id)", method: .PATCH, body: #"{"share_mode":"private","max_concurrency":0,"priority":3}"#, as: owner)
            #expect(changed.status == 200)
            #expect(changed.json?["share_mode"] as? String == "private" && changed.json?["max_concurrency"] as? Int == nil)
            #expect(changed.json?["priority"] as? Int == 3 && changed.json?["reserve_percent"] as? Int == 30)

            for (body, param) in [
                (#"{"provider":"nope","secret":"x"}"#, "provider"), (#"{"provider":"mock","secret":""}"#, "secret"),
                (#"{"provider":"mock","secret":"x","models":["gpt-9"]}"#, "models"),
                (#"{"provider":"mock","secret":"x","reserve_percent":101}"#, "reserve_percent"),
                (#"{"provider":"mock","secret":"x","share_mode":"everyone"}"#, "share_mode"),
                (#"{"provider":"mock","secret":"x","owner_user_id":1}"#, "owner_user_id"),
            ] {
                let bad = try await h.api("/api/accounts", method: .POST, body: body, as: owner)
                #expect(bad.status == 400 && bad.error?["param"] as? String == param, "\(body)")
            }

            #expect(try await h.api("/api/accounts/\(id)", method: .DELETE, as: owner).status == 204)
            #expect((try await h.api("/api/accounts", as: owner).json?["data"] as? [Any])?.isEmpty == true)
            #expect(h.gateway.pool.servedModels().isEmpty)
        }
    }

    @Test func adminsSeeEveryAccountsStateResetAndDisableThem() async throws {
        try await Harness.run { h in
            let admin = try await h.signInAdmin()
            let user = try await h.user()
            let id = try await h.account(secret: "watched")
            h.control.set(.fail(status: 429, retryAfter: "600"), for: "watched")
            #expect(try await h.chat(user.key).status == 429)

            #expect(try await h.api("/api/admin/accounts", as: try await h.signUp()).status == 403)
            let listed = try await h.api("/api/admin/accounts?state=cooling", as: admin)
            #expect(!String(decoding: listed.body, as: UTF8.self).contains("watched"), "the secret is never shown")
            let account = try #require((listed.json?["data"] as? [[String: Any]])?.first)
            #expect(account["id"] as? Int == Int(id) && account["state"] as? String == "cooling")
            let scope = try #require((account["scopes"] as? [[String: Any]])?.first)
            #expect(scope["model"] as? String == Harness.model && scope["reason"] as? String == "rate_limited" && scope["cooling_until"] is String)
            #expect(account["last_error"] as? String == "HTTP 429" && account["cooldowns_entered"] as? Int == 1)
            #expect((account["errors"] as? [String: Int])?["rate_limited"] == 1 && account["in_flight"] as? Int == 0)
            #expect((try await h.api("/api/admin/accounts?state=ok", as: admin).json?["data"] as? [Any])?.isEmpty == true)

            // A reset brings it back at once, in memory and in the store.
            h.control.set(.succeed, for: "watched")
            let reset = try await h.api("/api/admin/accounts/\(id)/reset", method: .POST, as: admin)
            #expect(reset.status == 200 && reset.json?["state"] as? String == "ok")
            #expect(try await h.gateway.store.liveCooldowns(now: Date()).isEmpty)
            #expect(try await h.chat(user.key).status == 200)

            // Disabled, it serves nobody until enabled again: its models are gone with it.
            let disabled = try await h.api("/api/admin/accounts/\(id)", method: .PATCH, body: #"{"enabled":false}"#, as: admin)
            #expect(disabled.json?["state"] as? String == "disabled")
            #expect(try await h.chat(user.key).status == 404)
            _ = try await h.api("/api/admin/accounts/\(id)", method: .PATCH, body: #"{"enabled":true}"#, as: admin)
            #expect(try await h.chat(user.key).status == 200)
            #expect(try await h.api("/api/admin/accounts/999/reset", method: .POST, as: admin).status == 404)
        }
    }
}
