import Foundation
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

/// What a team spends and with what: its keys, its wallet (recharges, codes, plans), its usage
/// and activity, and what site admins see of teams. Helpers are in TeamLifecycleTests.swift.
@Suite struct TeamWalletAPITests {
    @Test func membersSeeTheirOwnTeamKeysAndAdminsEveryones() async throws {
        try await Harness.run(configure: Harness.roomyForTeams) { h in
            let owner = try await h.signUp()
            let team = try await h.newTeam(as: owner)
            let admin = try await h.newTeamMember(team, role: "admin", by: owner)
            let alice = try await h.newTeamMember(team, by: owner)
            let bob = try await h.newTeamMember(team, by: owner)
            let aliceKey = try await h.newTeamKey(team, name: "alice", as: alice.session)
            let bobKey = try await h.newTeamKey(team, name: "bob", as: bob.session)
            let path = "/api/teams/\(team)/api-keys"
            func ids(_ reply: Harness.Reply) -> Set<Int64> { Set(reply.list.compactMap { ($0["id"] as? NSNumber)?.int64Value }) }

            let alicesView = try await h.api(path, as: alice.session)
            #expect(alicesView.status == 200 && ids(alicesView) == [aliceKey.id])
            #expect(!alicesView.text.contains(aliceKey.key))
            let adminsView = try await h.api(path, as: admin.session)
            #expect(ids(adminsView) == [aliceKey.id, bobKey.id])
            let ownersView = try await h.api(path, as: owner)
            #expect(ids(ownersView) == [aliceKey.id, bobKey.id])

            // Another member's key is not there for a member; an admin revokes anyone's.
            #expect(try await h.api("\(path)/\(bobKey.id)", method: .DELETE, as: alice.session).status == 404)
            #expect(try await h.api("\(path)/\(bobKey.id)", method: .DELETE, as: admin.session).status == 204)
            #expect(try await h.api("\(path)/\(aliceKey.id)", method: .DELETE, as: alice.session).status == 204)
            #expect(try await h.api(path, as: alice.session).list.isEmpty)

            // Team keys belong to the team's wallet, not to the member's own keys.
            let aliceAgain = try await h.newTeamKey(team, as: alice.session)
            let personal = try #require((try await h.api("/api/api-keys", method: .POST, body: "{}", as: alice.session).json?["id"] as? NSNumber)?.int64Value)
            let own = try await h.api("/api/api-keys", as: alice.session)
            #expect(ids(own) == [personal])
            #expect(!ids(own).contains(aliceAgain.id))
            #expect(try await h.api(path, as: try await h.signUp()).status == 404)
        }
    }

    @Test func theWalletIsRechargedAndTakesCodesRedeemedByMembers() async throws {
        try await Harness.run(configure: Harness.roomyForTeams) { h in
            let siteAdmin = try await h.signInAdmin()
            let owner = try await h.signUp()
            let team = try await h.newTeam(as: owner)
            let admin = try await h.newTeamMember(team, role: "admin", by: owner)
            let member = try await h.newTeamMember(team, by: owner)
            struct Entry: Decodable { var type: String; var amount: Decimal; var balanceAfter: Decimal }
            struct Entries: Decodable { var data: [Entry] }

            let recharge = try await h.api(
                "/api/admin/teams/\(team)/credits", method: .POST, body: #"{"amount":5,"reason":"invoice 7"}"#, as: siteAdmin)
            #expect(recharge.status == 200)
            #expect(try recharge.decode(Entry.self).amount == 5)
            #expect(try await h.api("/api/teams/\(team)", as: owner).decode(TeamJSON.self).balance == 5)
            let notSiteAdmin = try await h.api("/api/admin/teams/\(team)/credits", method: .POST, body: #"{"amount":5,"reason":"x"}"#, as: owner)
            #expect(notSiteAdmin.status == 403)

            let made = try await h.api("/api/admin/redemption-codes", method: .POST, body: #"{"value":"2.5","max_uses":5}"#, as: siteAdmin)
            #expect(made.status == 201)
            let code = try #require((made.json?["codes"] as? [String])?.first)
            let ownBalance = try await h.gateway.store.balance(userID: member.session.userID)
            let redeemPath = "/api/teams/\(team)/credits/redeem"
            let redeemed = try await h.api(redeemPath, method: .POST, body: #"{"code":"\#(code)"}"#, as: member.session)
            #expect(redeemed.status == 200)
            struct Credited: Decodable { var credited: Decimal; var balance: Decimal }
            let credited = try redeemed.decode(Credited.self)
            #expect(credited.credited == Decimal(string: "2.5") && credited.balance == Decimal(string: "7.5"))
            #expect(try await h.api("/api/teams/\(team)", as: member.session).decode(TeamJSON.self).balance == Decimal(string: "7.5"))
            #expect(try await h.gateway.store.balance(userID: member.session.userID) == ownBalance)
            // A wallet redeems a code once, whoever of its members tries.
            #expect(try await h.api(redeemPath, method: .POST, body: #"{"code":"\#(code)"}"#, as: admin.session).status == 409)

            let ledger = try await h.api("/api/teams/\(team)/credits/transactions", as: admin.session)
            #expect(ledger.status == 200)
            let entries = try ledger.decode(Entries.self).data
            #expect(entries.count == 2)
            #expect(Set(entries.map(\.amount)) == [5, Decimal(string: "2.5")!])
            #expect(entries.first?.balanceAfter == Decimal(string: "7.5"))
            let asMember = try await h.api("/api/teams/\(team)/credits/transactions", as: member.session)
            #expect(asMember.status == 403 && asMember.errorCode == "team_role_required")
        }
    }

    @Test func aTeamsPlanGrantsItsMonthlyCreditsOnce() async throws {
        try await Harness.run(configure: {
            Harness.roomyForTeams(&$0)
            $0.plans["pro"]?.monthlyCredits = Credits(whole: 20)
        }) { h in
            let siteAdmin = try await h.signInAdmin()
            let owner = try await h.signUp()
            let team = try await h.newTeam(as: owner)
            let wallet = try await h.teamWallet(team)
            let path = "/api/admin/teams/\(team)"

            let changed = try await h.api(path, method: .PATCH, body: #"{"plan":"pro"}"#, as: siteAdmin)
            #expect(changed.status == 200)
            let view = try changed.decode(TeamJSON.self)
            #expect(view.plan == "pro" && view.balance == 20)
            // The same plan again, and the hourly pass, grant nothing more this month.
            #expect(try await h.api(path, method: .PATCH, body: #"{"plan":"pro"}"#, as: siteAdmin).status == 200)
            await h.gateway.grants.grantEveryone(now: Date())
            let grants = try await h.gateway.store.ledger(userID: wallet).filter { $0.kind == .grant }
            #expect(grants.count == 1)
            #expect(grants.first?.amount == Credits(whole: 20))
            #expect(try await h.gateway.store.balance(userID: wallet) == Credits(whole: 20))

            let seen = try await h.api("/api/teams/\(team)", as: owner).decode(TeamJSON.self)
            #expect(seen.plan == "pro" && seen.balance == 20)
            #expect(try await h.api(path, method: .PATCH, body: #"{"plan":"gold"}"#, as: siteAdmin).status == 400)
            #expect(try await h.api(path, method: .PATCH, body: #"{"plan":"enterprise"}"#, as: owner).status == 403)
            #expect(try await h.api("/api/admin/teams/9999999", method: .PATCH, body: #"{"plan":"pro"}"#, as: siteAdmin).status == 404)
        }
    }

    @Test func adminsSeeUsagePerMemberTheLogsAndTheActivity() async throws {
        try await Harness.run(configure: Harness.roomyForTeams) { h in
            try await h.account(secret: "up")
            let owner = try await h.signUp()
            let team = try await h.newTeam(as: owner)
            try await h.fundTeam(team, Credits(whole: 10))
            let alice = try await h.newTeamMember(team, by: owner)
            let bob = try await h.newTeamMember(team, by: owner)
            let aliceKey = try await h.newTeamKey(team, as: alice.session)
            let bobKey = try await h.newTeamKey(team, as: bob.session)
            for _ in 0..<2 { #expect(try await h.chat(aliceKey.key).status == 200) }
            for _ in 0..<3 { #expect(try await h.chat(bobKey.key).status == 200) }
            await h.settled()

            // The requests are the wallet's: its usage log and its balance, not the members'.
            let wallet = try await h.teamWallet(team)
            #expect(try await h.gateway.store.usageLogs(userID: wallet).count == 5)
            #expect(try await h.gateway.store.usageLogs(userID: alice.session.userID).isEmpty)
            let left = try #require(try await h.gateway.store.balance(userID: wallet))
            #expect(left < Credits(whole: 10))

            struct Usage: Decodable { var userId: Int64; var requests: Int; var credits: Decimal }
            struct Usages: Decodable { var data: [Usage] }
            let perMember = try await h.api("/api/teams/\(team)/usage/members", as: owner)
            #expect(perMember.status == 200)
            let usage = try perMember.decode(Usages.self).data
            let aliceUsage = try #require(usage.first { $0.userId == alice.session.userID })
            let bobUsage = try #require(usage.first { $0.userId == bob.session.userID })
            #expect(aliceUsage.requests == 2 && aliceUsage.credits > 0)
            #expect(bobUsage.requests == 3 && bobUsage.credits > 0)
            // Members without requests are listed too; the most spent comes first.
            #expect(usage.first { $0.userId == owner.userID }?.requests == 0)
            #expect(usage.first?.userId == bob.session.userID)

            let logs = try await h.api("/api/teams/\(team)/usage/logs", as: owner)
            #expect(logs.status == 200 && logs.list.count == 5)
            #expect(try await h.api("/api/teams/\(team)/usage/logs?key_id=\(aliceKey.id)", as: owner).list.count == 2)
            let stats = try await h.api("/api/teams/\(team)/usage/stats", as: owner)
            #expect((stats.json?["total"] as? [String: Any])?["requests"] as? Int == 5)

            let activity = try await h.api("/api/teams/\(team)/activity", as: owner)
            #expect(activity.status == 200)
            let actions = activity.list.compactMap { $0["action"] as? String }
            for expected in ["team_created", "member_added", "key_created"] {
                #expect(actions.contains(expected), "no \(expected) in \(actions)")
            }
            let added = try #require(activity.list.first { $0["action"] as? String == "member_added" })
            #expect((added["actor_id"] as? NSNumber)?.int64Value == owner.userID)

            for path in ["usage/members", "usage/logs", "usage/stats", "activity"] {
                let refused = try await h.api("/api/teams/\(team)/\(path)", as: alice.session)
                #expect(refused.status == 403 && refused.errorCode == "team_role_required", "\(path)")
            }
        }
    }

    @Test func siteAdminsListTeamsAndWalletsAreNotUsers() async throws {
        try await Harness.run(configure: Harness.roomyForTeams) { h in
            let siteAdmin = try await h.signInAdmin()
            let owner = try await h.signUp()
            let first = try await h.newTeam("First", as: owner)
            let second = try await h.newTeam("Second", as: try await h.signUp())

            let listed = try await h.api("/api/admin/teams", as: siteAdmin)
            #expect(listed.status == 200)
            let teams = try listed.decode(TeamList.self).data
            #expect(teams.map(\.id) == [second, first])  // newest first
            #expect(teams.map(\.name) == ["Second", "First"])
            #expect(teams.allSatisfy { $0.role == nil })
            #expect(try await h.api("/api/admin/teams", as: owner).status == 403)

            let users = try await h.api("/api/admin/users?limit=100", as: siteAdmin)
            #expect(users.status == 200)
            let ids = Set(users.list.compactMap { ($0["id"] as? NSNumber)?.int64Value })
            #expect(ids.contains(owner.userID))
            for team in [first, second] {
                let wallet = try await h.teamWallet(team)
                #expect(!ids.contains(wallet))
            }
            #expect(!users.text.contains("teams.sluice.invalid"))
        }
    }
}

struct TeamList: Decodable { var data: [TeamJSON] }
