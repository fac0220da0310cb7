import Foundation
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

/// Team accounts are a tier of their own: a team key tries the member's own accounts, then the
/// team's, then the shared pool; nobody else's request reaches a team's account unless the team
/// lends it (share mode surplus) like any owner.
@Suite struct TeamSelectionTests {
    func servedBy(_ h: Harness) -> [String?] { h.control.requests.map { $0.authorization?.replacingOccurrences(of: "Bearer ", with: "") } }

    @Test func ownAccountThenTeamAccountThenSharedPool() async throws {
        try await Harness.run { h in
            let owner = try await h.signUp()
            let member = try await h.signUp()
            let teamID = try #require(try await h.api("/api/teams", method: .POST, body: #"{"name":"Tiered"}"#, as: owner).json?["id"] as? Int)
            let team = try #require(try await h.gateway.store.team(id: Int64(teamID)))
            _ = try await h.gateway.store.addTeamMember(teamID: team.id, userID: member.userID, role: .member, at: Date())
            _ = try await h.gateway.store.credit(userID: team.walletUserID, amount: Credits(whole: 10), kind: .grant, referenceID: "fund", note: nil)
            try await h.account(secret: "shared", priority: 100)
            try await h.account(secret: "own", owner: member.userID)
            let added = try await h.api(
                "/api/teams/\(teamID)/accounts", method: .POST, body: #"{"provider":"mock","secret":"team","priority":50}"#, as: owner)
            #expect(added.status == 201, "\(added.text)")
            let key = try #require(try await h.api("/api/teams/\(teamID)/api-keys", method: .POST, body: "{}", as: member).json?["key"] as? String)

            // The member's own account first, whatever the others' priorities.
            #expect(try await h.chat(key).status == 200)
            #expect(servedBy(h).last == "own")
            // Then the team's.
            h.control.set(.fail(status: 503), for: "own")
            var before = servedBy(h).count
            #expect(try await h.chat(key).status == 200)
            #expect(Array(servedBy(h).dropFirst(before)) == ["own", "team"])
            // Then the shared pool.
            h.control.set(.fail(status: 503), for: "team")
            before = servedBy(h).count
            #expect(try await h.chat(key).status == 200)
            #expect(servedBy(h).dropFirst(before).last == "shared")
            #expect(servedBy(h).dropFirst(before).contains("team"))

            // The team pays, not the member.
            await h.settled()
            #expect(try await h.gateway.store.balance(userID: member.userID) == .zero)
            #expect(try await h.gateway.store.usageLogs(userID: team.walletUserID).count == 3)
        }
    }

    @Test func aTeamsAccountServesOnlyItsOwnKeysUnlessLent() async throws {
        try await Harness.run { h in
            let owner = try await h.signUp()
            try await h.fund(owner)
            let teamID = try #require(try await h.api("/api/teams", method: .POST, body: #"{"name":"Private"}"#, as: owner).json?["id"] as? Int)
            let created = try await h.api("/api/teams/\(teamID)/accounts", method: .POST, body: #"{"provider":"mock","secret":"team"}"#, as: owner)
            let accountID = try #require(created.json?["id"] as? Int)
            // The owner's personal key is not a team key: the team's account is not theirs to use.
            let personal = try #require(try await h.api("/api/api-keys", method: .POST, body: "{}", as: owner).json?["key"] as? String)
            let refused = try await h.chat(personal)
            #expect(refused.status == 503 || refused.status == 404, "\(refused.text)")
            #expect(servedBy(h).isEmpty)
            // Lent to the pool in surplus mode, it serves others like any contributed account.
            let lent = try await h.api(
                "/api/teams/\(teamID)/accounts/\(accountID)", method: .PATCH, body: #"{"share_mode":"surplus","reserve_percent":0}"#, as: owner)
            #expect(lent.status == 200, "\(lent.text)")
            #expect(try await h.chat(personal).status == 200)
            #expect(servedBy(h) == ["team"])
        }
    }
}
