import Foundation
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

@Suite struct PlanTests {
    static func withPlans(_ config: inout SluiceConfig) {
        config.plans["free"]?.monthlyCredits = Credits(whole: 1)
        config.plans["pro"]?.monthlyCredits = Credits(whole: 20)
    }

    @Test func plansArePublicAndComeFromConfig() async throws {
        try await Harness.run(configure: { $0.plans["pro"]?.displayName = "Pro Max" }) { h in
            let reply = try await h.request("/api/subscriptions/plans", method: .GET, key: nil)
            #expect(reply.status == 200)
            #expect(reply.list.compactMap { $0["name"] as? String } == ["free", "pro", "enterprise"])
            #expect(reply.list[1]["display_name"] as? String == "Pro Max")
            let allowance = try #require(reply.list[1]["pool_allowance"] as? [String: Any])
            #expect(allowance["unit"] as? String == "tokens" && allowance["capacity"] is Int && allowance["recovery_per_hour"] is Int)
        }
    }

    @Test func theMonthlyGrantIsAppliedOncePerPeriodAcrossRestarts() async throws {
        let directory = NSTemporaryDirectory() + "sluice-plans-\(UUID().uuidString)"
        var userID: Int64 = 0
        try await Harness.run(configure: Self.withPlans, directory: directory) { h in
            let user = try await h.signUp()
            userID = user.userID
            #expect(try await h.gateway.store.balance(userID: userID) == Credits(whole: 1))  // free, granted at sign-up

            let admin = try await h.signInAdmin()
            let patch = try await h.api("/api/admin/users/\(userID)", method: .PATCH, body: #"{"plan":"pro"}"#, as: admin)
            #expect(patch.status == 200 && patch.json?["plan"] as? String == "pro")
            #expect(try await h.gateway.store.balance(userID: userID) == Credits(whole: 21))
            await h.gateway.grants.grantEveryone(now: Date())
            await h.gateway.grants.grantEveryone(now: Date())
            #expect(try await h.gateway.store.balance(userID: userID) == Credits(whole: 21))
        }
        // A restart grants at start; this period is done already.
        try await Harness.run(configure: Self.withPlans, directory: directory) { h in
            await h.gateway.grants.grantEveryone(now: Date())
            #expect(try await h.gateway.store.balance(userID: userID) == Credits(whole: 21))
            // Next month is a new period: one more grant, still only one.
            let nextMonth = Date().addingTimeInterval(32 * 86_400)
            await h.gateway.grants.grantEveryone(now: nextMonth)
            await h.gateway.grants.grantEveryone(now: nextMonth)
            #expect(try await h.gateway.store.balance(userID: userID) == Credits(whole: 41))
            let grants = try await h.gateway.store.ledger(userID: userID).filter { $0.kind == .grant }
            #expect(Set(grants.map(\.referenceID)).count == grants.count)
        }
    }

    @Test func periodsAreUTCMonths() {
        #expect(PlanGrants.period(of: Date(timeIntervalSince1970: 1_767_225_599)) == "2025-12")  // 2025-12-31T23:59:59Z
        #expect(PlanGrants.period(of: Date(timeIntervalSince1970: 1_767_225_600)) == "2026-01")
    }
}

@Suite struct AdminUserTests {
    @Test func adminsListSearchAndUpdateUsersAndSeeTheirActivity() async throws {
        try await Harness.run { h in
            let admin = try await h.signInAdmin()
            let user = try await h.signUp("findme@test.dev")
            _ = try await h.signUp("other@test.dev")

            let search = try await h.api("/api/admin/users?search=FINDME", as: admin)
            #expect(search.list.compactMap { $0["email"] as? String } == ["findme@test.dev"])
            #expect(try await h.api("/api/admin/users?limit=2", as: admin).list.count == 2)

            let path = "/api/admin/users/\(user.userID)"
            let patch = try await h.api(path, method: .PATCH, body: #"{"trust_level":3,"role":"admin","plan":"enterprise"}"#, as: admin)
            #expect(patch.status == 200)
            #expect(patch.json?["trust_level"] as? Int == 3 && patch.json?["role"] as? String == "admin")
            #expect(try await h.api(path, method: .PATCH, body: #"{"trust_level":5}"#, as: admin).status == 400)
            #expect(try await h.api(path, method: .PATCH, body: #"{"plan":"gold"}"#, as: admin).status == 400)
            #expect(try await h.api(path, method: .PATCH, body: #"{"status":"banned"}"#, as: admin).status == 400)
            // Forbidden, not invalid: the same change is one another admin may make.
            let demoteSelf = try await h.api("/api/admin/users/\(admin.userID)", method: .PATCH, body: #"{"role":"user"}"#, as: admin)
            #expect(demoteSelf.status == 403 && demoteSelf.errorCode == "cannot_change_self")

            let key = try await h.api("/api/api-keys", method: .POST, body: "{}", as: user)
            let keyID = try #require(key.json?["id"] as? Int)
            _ = try await h.api("/api/api-keys/\(keyID)", method: .DELETE, as: user)
            _ = try await h.api("\(path)/credits", method: .POST, body: #"{"amount":3,"reason":"welcome"}"#, as: admin)

            let activity = try await h.api("\(path)/activity", as: admin)
            let actions = activity.list.compactMap { $0["action"] as? String }
            for expected in ["registered", "login", "key_created", "key_revoked", "credits_changed", "plan_changed", "role_changed", "trust_changed"] {
                #expect(actions.contains(expected), "no \(expected) in \(actions)")
            }
            let change = try #require(activity.list.first { $0["action"] as? String == "credits_changed" })
            #expect((change["actor_id"] as? NSNumber)?.int64Value == admin.userID)
            #expect(change["ip"] as? String == "127.0.0.1")
            #expect(change["created_at"] is String)

            // A user, even one just made admin, needs no special case: a plain user is refused.
            let plain = try await h.signUp()
            #expect(try await h.api("/api/admin/users", as: plain).status == 403)
            #expect(try await h.api("/api/admin/users/\(user.userID)/activity", as: plain).status == 403)
        }
    }
}
