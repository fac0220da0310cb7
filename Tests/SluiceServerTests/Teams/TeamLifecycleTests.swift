import Foundation
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

/// A team's life through `/api/teams`: making and renaming it, invitations, adding members,
/// roles and limits, removal, leaving and handing over ownership. See docs/teams.md.
@Suite struct TeamLifecycleTests {
    @Test func ownersMakeAndRenameTeamsAndMembersSeeThem() async throws {
        try await Harness.run(configure: Harness.roomyForTeams) { h in
            let owner = try await h.signUp()
            let created = try await h.api("/api/teams", method: .POST, body: #"{"name":"Acme"}"#, as: owner)
            #expect(created.status == 201)
            let team = try created.decode(TeamJSON.self)
            #expect(team.name == "Acme" && team.role == "owner" && team.balance == 0 && team.plan == "free")

            let listed = try await h.api("/api/teams", as: owner)
            #expect(listed.list.count == 1)
            #expect((listed.list.first?["id"] as? NSNumber)?.int64Value == team.id && listed.list.first?["role"] as? String == "owner")

            let renamed = try await h.api("/api/teams/\(team.id)", method: .PATCH, body: #"{"name":"  Acme Labs "}"#, as: owner)
            #expect(renamed.status == 200)
            #expect(try renamed.decode(TeamJSON.self).name == "Acme Labs")
            #expect(try await h.api("/api/teams/\(team.id)", method: .PATCH, body: #"{"name":"   "}"#, as: owner).status == 400)

            let member = try await h.newTeamMember(team.id, by: owner)
            try await h.fundTeam(team.id, Credits(whole: 3))
            let seen = try await h.api("/api/teams/\(team.id)", as: member.session)
            #expect(seen.status == 200)
            let view = try seen.decode(TeamJSON.self)
            #expect(view.name == "Acme Labs" && view.role == "member" && view.balance == 3)
            #expect(try await h.api("/api/teams", as: member.session).list.first?["role"] as? String == "member")
            let refused = try await h.api("/api/teams/\(team.id)", method: .PATCH, body: #"{"name":"Mine"}"#, as: member.session)
            #expect(refused.status == 403 && refused.errorCode == "team_role_required")

            // Someone outside the team finds nothing there; a site admin sees it without a role.
            #expect(try await h.api("/api/teams/\(team.id)", as: try await h.signUp()).status == 404)
            let asSiteAdmin = try await h.api("/api/teams/\(team.id)", as: try await h.signInAdmin())
            #expect(asSiteAdmin.status == 200)
            #expect(try asSiteAdmin.decode(TeamJSON.self).role == nil)
        }
    }

    @Test func invitationsAreForOneAddressAndWorkOnce() async throws {
        try await Harness.run(configure: Harness.roomyForTeams) { h in
            let owner = try await h.signUp()
            let team = try await h.newTeam(as: owner)
            let admin = try await h.newTeamMember(team, role: "admin", by: owner)
            func invite(_ email: String, role: String = "member", as session: Harness.Session) async throws -> Harness.Reply {
                try await h.api("/api/teams/\(team)/invitations", method: .POST, body: #"{"email":"\#(email)","role":"\#(role)"}"#, as: session)
            }
            func accept(_ token: String, as session: Harness.Session) async throws -> Harness.Reply {
                try await h.api("/api/team-invitations/accept", method: .POST, body: #"{"token":"\#(token)"}"#, as: session)
            }

            let email = Harness.teamEmail()
            let invited = try await invite(email, as: admin.session)
            #expect(invited.status == 201)
            let token = try #require(invited.json?["token"] as? String)
            let invitationID = try #require(invited.json?["id"] as? Int)
            #expect(invited.json?["email"] as? String == email && invited.json?["role"] as? String == "member")

            // Another signed-in user cannot use it, and that does not use it up.
            let stranger = try await h.signUp()
            let wrong = try await accept(token, as: stranger)
            #expect(wrong.status == 400 && wrong.errorCode == "invalid_or_expired_token")
            let pending = try await h.api("/api/teams/\(team)/invitations", as: admin.session)
            #expect(pending.list.compactMap { $0["id"] as? Int } == [invitationID])
            #expect(!pending.text.contains(token))

            let invitee = try await h.signUp(email)
            let accepted = try await accept(token, as: invitee)
            #expect(accepted.status == 200)
            let joined = try accepted.decode(TeamJSON.self)
            #expect(joined.id == team && joined.role == "member")
            let again = try await accept(token, as: invitee)
            #expect(again.status == 400 && again.errorCode == "invalid_or_expired_token")
            #expect(try await h.api("/api/teams/\(team)/invitations", as: admin.session).list.isEmpty)

            // A newer invitation to the same address replaces the older one.
            let later = Harness.teamEmail()
            let older = try #require(try await invite(later, as: owner).json?["token"] as? String)
            let newer = try await invite(later, role: "admin", as: owner)
            #expect(newer.status == 201)
            let newerToken = try #require(newer.json?["token"] as? String)
            let newerID = try #require(newer.json?["id"] as? Int)
            #expect(try await h.api("/api/teams/\(team)/invitations", as: owner).list.compactMap { $0["id"] as? Int } == [newerID])
            let latecomer = try await h.signUp(later)
            #expect(try await accept(older, as: latecomer).errorCode == "invalid_or_expired_token")
            let promoted = try await accept(newerToken, as: latecomer)
            #expect(promoted.status == 200)
            #expect(try promoted.decode(TeamJSON.self).role == "admin")

            // A withdrawn invitation is gone for good.
            let withdrawnEmail = Harness.teamEmail()
            let withdrawn = try await invite(withdrawnEmail, as: owner)
            let withdrawnID = try #require(withdrawn.json?["id"] as? Int)
            #expect(try await h.api("/api/teams/\(team)/invitations/\(withdrawnID)", method: .DELETE, as: admin.session).status == 204)
            #expect(try await h.api("/api/teams/\(team)/invitations/\(withdrawnID)", method: .DELETE, as: admin.session).status == 404)
            let withdrawnToken = try #require(withdrawn.json?["token"] as? String)
            #expect(try await accept(withdrawnToken, as: try await h.signUp(withdrawnEmail)).errorCode == "invalid_or_expired_token")

            // A member's address is not invited again; admins invite members only; members invite nobody.
            #expect(try await invite(email, as: owner).status == 409)
            let adminInvitingAdmin = try await invite(Harness.teamEmail(), role: "admin", as: admin.session)
            #expect(adminInvitingAdmin.status == 403 && adminInvitingAdmin.errorCode == "team_role_required")
            #expect(try await invite(Harness.teamEmail(), as: invitee).status == 403)
        }
    }

    @Test func existingUsersAreAddedByEmail() async throws {
        try await Harness.run(configure: Harness.roomyForTeams) { h in
            let owner = try await h.signUp()
            let team = try await h.newTeam(as: owner)
            let email = Harness.teamEmail()
            let person = try await h.signUp(email)
            let path = "/api/teams/\(team)/members"

            let added = try await h.api(path, method: .POST, body: #"{"email":"\#(email)"}"#, as: owner)
            #expect(added.status == 201)
            let member = try added.decode(MemberJSON.self)
            #expect(member.userId == person.userID && member.email == email && member.role == "member" && member.spendLimit == nil)
            #expect(try await h.api(path, method: .POST, body: #"{"email":"\#(email)"}"#, as: owner).status == 409)
            #expect(try await h.api(path, method: .POST, body: #"{"email":"nobody-\#(UUID())@test.dev"}"#, as: owner).status == 404)
            // A team's wallet has an address too, but it is no person to add.
            let wallet = try #require(try await h.gateway.store.user(id: try await h.teamWallet(team)))
            #expect(try await h.api(path, method: .POST, body: #"{"email":"\#(wallet.email)"}"#, as: owner).status == 404)

            let admin = try await h.newTeamMember(team, role: "admin", by: owner)
            let next = Harness.teamEmail()
            _ = try await h.signUp(next)
            let refused = try await h.api(path, method: .POST, body: #"{"email":"\#(next)","role":"admin"}"#, as: admin.session)
            #expect(refused.status == 403 && refused.errorCode == "team_role_required")
            let asMember = try await h.api(path, method: .POST, body: #"{"email":"\#(next)","role":"member"}"#, as: admin.session)
            #expect(asMember.status == 201)
            let nextID = try asMember.decode(MemberJSON.self).userId

            let members = try await h.api(path, as: owner).decode(MemberList.self).data
            #expect(members.first?.userId == owner.userID && members.first?.role == "owner")
            #expect(Set(members.map(\.userId)) == [owner.userID, person.userID, admin.session.userID, nextID])
        }
    }

    @Test func rolesAndSpendingLimitsFollowWhoOutranksWhom() async throws {
        try await Harness.run(configure: Harness.roomyForTeams) { h in
            let owner = try await h.signUp()
            let team = try await h.newTeam(as: owner)
            let promoted = try await h.newTeamMember(team, by: owner)
            let otherAdmin = try await h.newTeamMember(team, role: "admin", by: owner)
            let member = try await h.newTeamMember(team, by: owner)
            func change(_ user: Int64, _ body: String, as session: Harness.Session) async throws -> Harness.Reply {
                try await h.api("/api/teams/\(team)/members/\(user)", method: .PATCH, body: body, as: session)
            }

            let promotion = try await change(promoted.session.userID, #"{"role":"admin"}"#, as: owner)
            #expect(promotion.status == 200)
            #expect(try promotion.decode(MemberJSON.self).role == "admin")

            // An admin changes members, not other admins and not the owner.
            let onAdmin = try await change(otherAdmin.session.userID, #"{"role":"member"}"#, as: promoted.session)
            #expect(onAdmin.status == 403 && onAdmin.errorCode == "team_role_required")
            let onOwner = try await change(owner.userID, #"{"spend_limit":1}"#, as: promoted.session)
            #expect(onOwner.status == 403 && onOwner.errorCode == "team_role_required")
            #expect(try await h.api("/api/teams/\(team)/members/\(owner.userID)", method: .DELETE, as: promoted.session).status == 403)
            #expect(try await h.api("/api/teams/\(team)/members/\(owner.userID)", method: .DELETE, as: owner).status == 403)

            // Ownership moves only by transfer.
            let toOwner = try await change(member.session.userID, #"{"role":"owner"}"#, as: owner)
            #expect(toOwner.status == 400 && toOwner.error?["param"] as? String == "role")

            let limited = try await change(member.session.userID, #"{"spend_limit":2.5}"#, as: promoted.session)
            #expect(limited.status == 200)
            let withLimit = try limited.decode(MemberJSON.self)
            #expect(withLimit.spendLimit == Decimal(string: "2.5") && withLimit.role == "member")
            let zero = try await change(member.session.userID, #"{"spend_limit":0}"#, as: owner)
            #expect(zero.status == 400 && zero.error?["param"] as? String == "spend_limit")
            // Leaving the field out keeps the limit; null removes it.
            #expect(try await change(member.session.userID, #"{"role":"member"}"#, as: owner).decode(MemberJSON.self).spendLimit == Decimal(string: "2.5"))
            let unlimited = try await change(member.session.userID, #"{"spend_limit":null}"#, as: owner)
            #expect(unlimited.status == 200)
            #expect(try unlimited.decode(MemberJSON.self).spendLimit == nil)

            let listed = try await h.api("/api/teams/\(team)/members", as: member.session)
            let entry = try #require(listed.list.first { ($0["user_id"] as? NSNumber)?.int64Value == member.session.userID })
            #expect(entry["spend_limit"] == nil || entry["spend_limit"] is NSNull)
            #expect(try await change(9_999_999, #"{"role":"member"}"#, as: owner).status == 404)
        }
    }

    @Test func removedAndDepartedMembersKeysStopAndOwnershipIsHandedOver() async throws {
        try await Harness.run(configure: {
            Harness.roomyForTeams(&$0)
            $0.auth.keyCacheTTLMillis = 60_000  // so "at once" is the revocation, not the cache running out
        }) { h in
            try await h.account(secret: "up")
            let owner = try await h.signUp()
            let team = try await h.newTeam(as: owner)
            try await h.fundTeam(team, Credits(whole: 5))
            let admin = try await h.newTeamMember(team, role: "admin", by: owner)
            let removed = try await h.newTeamMember(team, by: owner)
            let leaver = try await h.newTeamMember(team, by: owner)
            let heir = try await h.newTeamMember(team, by: owner)

            let removedKey = try await h.newTeamKey(team, as: removed.session).key
            #expect(try await h.chat(removedKey).status == 200)
            #expect(try await h.api("/api/teams/\(team)/members/\(removed.session.userID)", method: .DELETE, as: admin.session).status == 204)
            #expect(try await h.chat(removedKey).status == 401)
            #expect(try await h.api("/api/teams/\(team)", as: removed.session).status == 404)

            let leaverKey = try await h.newTeamKey(team, as: leaver.session).key
            #expect(try await h.chat(leaverKey).status == 200)
            #expect(try await h.api("/api/teams/\(team)/leave", method: .POST, as: leaver.session).status == 204)
            #expect(try await h.chat(leaverKey).status == 401)
            #expect(try await h.api("/api/teams", as: leaver.session).list.isEmpty)

            let ownerLeaving = try await h.api("/api/teams/\(team)/leave", method: .POST, as: owner)
            #expect(ownerLeaving.status == 409)

            let transferBody = #"{"user_id":\#(heir.session.userID)}"#
            let byAdmin = try await h.api("/api/teams/\(team)/transfer", method: .POST, body: transferBody, as: admin.session)
            #expect(byAdmin.status == 403 && byAdmin.errorCode == "team_role_required")
            let toStranger = try await h.api(
                "/api/teams/\(team)/transfer", method: .POST, body: #"{"user_id":\#(removed.session.userID)}"#, as: owner)
            #expect(toStranger.status == 409)
            let transferred = try await h.api("/api/teams/\(team)/transfer", method: .POST, body: transferBody, as: owner)
            #expect(transferred.status == 200)
            #expect(try transferred.decode(MemberJSON.self).role == "owner")

            let members = try await h.api("/api/teams/\(team)/members", as: owner).decode(MemberList.self).data
            #expect(members.first?.userId == heir.session.userID && members.first?.role == "owner")
            #expect(members.first { $0.userId == owner.userID }?.role == "admin")
            #expect(members.filter { $0.role == "owner" }.count == 1)

            // The former owner, now an admin, may leave; the new owner runs the team.
            #expect(try await h.api("/api/teams/\(team)/leave", method: .POST, as: owner).status == 204)
            #expect(try await h.api("/api/teams", as: owner).list.isEmpty)
            #expect(try await h.api("/api/teams/\(team)", as: heir.session).decode(TeamJSON.self).role == "owner")
        }
    }
}

// MARK: - Helpers shared by the team API tests

/// `/api/teams/{id}` and friends, decoded with `/api`'s conventions (credits as exact decimals).
struct TeamJSON: Decodable {
    var id: Int64
    var name: String
    var balance: Decimal
    var plan: String
    var role: String?
}

struct MemberJSON: Decodable {
    var userId: Int64
    var email: String
    var role: String
    var spendLimit: Decimal?
    var spent: Decimal
}

struct MemberList: Decodable { var data: [MemberJSON] }

extension Harness {
    /// Team tests sign many people up from one address; the sign-in throttle would stop them.
    static func roomyForTeams(_ config: inout SluiceConfig) {
        config.auth.loginAttemptsPerIPPerMinute = 1_000
    }

    static func teamEmail() -> String { "t\(UUID().uuidString.prefix(8).lowercased())@test.dev" }

    struct TeamMember {
        var session: Session
        var email: String
    }

    /// A team made through the API by `owner`; its id.
    func newTeam(_ name: String = "Team", as owner: Session) async throws -> Int64 {
        let reply = try await api("/api/teams", method: .POST, body: #"{"name":"\#(name)"}"#, as: owner)
        try #require(reply.status == 201, "create team: \(reply.text)")
        return try #require((reply.json?["id"] as? NSNumber)?.int64Value)
    }

    /// Signs someone up and adds them to the team with `role`, through `POST /members` as `by`.
    func newTeamMember(_ team: Int64, role: String = "member", by: Session) async throws -> TeamMember {
        let email = Self.teamEmail()
        let session = try await signUp(email)
        let reply = try await api("/api/teams/\(team)/members", method: .POST, body: #"{"email":"\#(email)","role":"\#(role)"}"#, as: by)
        try #require(reply.status == 201, "add member: \(reply.text)")
        return TeamMember(session: session, email: email)
    }

    /// The `users` row that holds the team's money.
    func teamWallet(_ team: Int64) async throws -> Int64 {
        try #require(try await gateway.store.team(id: team)).walletUserID
    }

    func fundTeam(_ team: Int64, _ credits: Credits) async throws {
        let wallet = try await teamWallet(team)
        _ = try await gateway.store.credit(userID: wallet, amount: credits, kind: .grant, referenceID: "fund-\(UUID())", note: nil)
        await gateway.credits.invalidate(userID: wallet)
    }

    /// A team key made by `member`; the secret and its id.
    func newTeamKey(_ team: Int64, name: String = "k", as member: Session) async throws -> (key: String, id: Int64) {
        let reply = try await api("/api/teams/\(team)/api-keys", method: .POST, body: #"{"name":"\#(name)"}"#, as: member)
        try #require(reply.status == 201, "team key: \(reply.text)")
        return (try #require(reply.json?["key"] as? String), try #require((reply.json?["id"] as? NSNumber)?.int64Value))
    }
}
