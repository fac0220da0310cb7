import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// `/api/teams`: teams, their members and roles, leaving and handing over ownership. Every route
/// on one team goes through `EndpointRegistry.team`, which applies `TeamAction`'s matrix.
struct TeamRoutes {
    let api: APIServices

    /// Teams one user may own at once, and members one team may have.
    static let maxOwnedTeams = 20
    static let maxMembers = 500
    static let nameSchema = Schema.string(length: 1...100, pattern: #"\S"#)

    func register(on registry: EndpointRegistry) {
        let team = Schema.ref("Team")
        let member = Schema.ref("TeamMember")
        registry.user(
            Endpoint(
                method: .post, path: "/api/teams", summary: "Make a team with a wallet of its own; you are its owner.",
                request: .object([("name", Self.nameSchema)], required: ["name"], closed: true), status: 201, response: team,
                errors: [409], tag: "teams"), create)
        registry.user(
            Endpoint(method: .get, path: "/api/teams", summary: "The teams you belong to, with your role.",
                response: .object([("data", .array(team))]), tag: "teams"), mine)
        registry.team(
            Endpoint(method: .get, path: "/api/teams/{id}", summary: "A team: its name, plan and wallet balance.", response: team, tag: "teams"),
            .viewTeam, store: api.store, show)
        registry.team(
            Endpoint(
                method: .patch, path: "/api/teams/{id}", summary: "Rename the team.",
                request: .object([("name", Self.nameSchema)], required: ["name"], closed: true), response: team, tag: "teams"),
            .renameTeam, store: api.store, rename)
        registry.team(
            Endpoint(method: .get, path: "/api/teams/{id}/members", summary: "The members, owner first, with their spending limits.",
                response: .object([("data", .array(member))]), tag: "teams"), .viewMembers, store: api.store, members)
        registry.team(
            Endpoint(
                method: .post, path: "/api/teams/{id}/members",
                summary: "Add an existing user by email as a member or admin. Only owners and site admins add admins.",
                request: .object([("email", .nonEmptyText), ("role", .nullable(.string(values: ["admin", "member"])))], required: ["email"], closed: true),
                status: 201, response: member, errors: [409], tag: "teams"), .addMember, store: api.store, addMember)
        registry.team(
            Endpoint(
                method: .patch, path: "/api/teams/{id}/members/{user_id}",
                summary: """
                    Change a member's role (admin or member) or spending limit on the wallet (null removes it). Admins change members \
                    only; nobody changes the owner here (see transfer).
                    """,
                request: .object(
                    [("role", .nullable(.string(values: ["admin", "member"]))), ("spend_limit", .nullable(.creditsInput(.positive)))], closed: true),
                response: member, tag: "teams"), .changeMember, store: api.store, changeMember)
        registry.team(
            Endpoint(
                method: .delete, path: "/api/teams/{id}/members/{user_id}",
                summary: "Remove a member; their team keys stop at once. Admins remove members only; the owner cannot be removed.",
                status: 204, tag: "teams"), .removeMember, store: api.store, removeMember)
        registry.team(
            Endpoint(
                method: .post, path: "/api/teams/{id}/leave", summary: "Leave the team; your team keys stop at once. The owner transfers ownership first.",
                status: 204, errors: [409], tag: "teams"), .leaveTeam, store: api.store, leave)
        registry.team(
            Endpoint(
                method: .post, path: "/api/teams/{id}/transfer", summary: "Make another member the owner; you become an admin.",
                request: .object([("user_id", .positiveInteger)], required: ["user_id"], closed: true), response: member, errors: [409],
                tag: "teams"), .transferOwnership, store: api.store, transfer)
    }

    @Sendable func create(_ request: Request, context: UserContext) async throws -> Response {
        struct Body: Decodable { var name: String }
        let (body, _) = try await APIJSON.body(Body.self, from: request, allowing: ["name"])
        let name = try Self.validName(body.name)
        let owned = try await api.store.teams(memberUserID: context.user.id).filter { $0.member.role == .owner }.count
        guard owned < Self.maxOwnedTeams else {
            throw GatewayError.conflict("You own \(Self.maxOwnedTeams) teams, the most allowed. Hand one over first.")
        }
        let team = try await api.store.createTeam(name: name, ownerUserID: context.user.id, at: Date())
        await api.log("team_created", user: team.walletUserID, actor: context.user.id, context: context, detail: "team \(team.id) \(name)")
        return try APIJSON.response(TeamViews.Team(team, role: .owner), status: .created)
    }

    @Sendable func mine(_ request: Request, context: UserContext) async throws -> Response {
        let memberships = try await api.store.teams(memberUserID: context.user.id)
        return try APIJSON.response(TeamViews.List(data: memberships.map { TeamViews.Team($0.team, role: $0.member.role) }))
    }

    @Sendable func show(_ request: Request, context: UserContext, access: TeamAccess) async throws -> Response {
        try APIJSON.response(TeamViews.Team(access.team, role: access.member?.role))
    }

    @Sendable func rename(_ request: Request, context: UserContext, access: TeamAccess) async throws -> Response {
        struct Body: Decodable { var name: String }
        let (body, _) = try await APIJSON.body(Body.self, from: request, allowing: ["name"])
        let name = try Self.validName(body.name)
        guard let team = try await api.store.renameTeam(id: access.team.id, name: name) else { throw GatewayError.notFound("No such team.") }
        await api.log("team_renamed", access, context, detail: "\(access.team.name) -> \(name)")
        return try APIJSON.response(TeamViews.Team(team, role: access.member?.role))
    }

    @Sendable func members(_ request: Request, context: UserContext, access: TeamAccess) async throws -> Response {
        try APIJSON.response(TeamViews.List(data: try await api.store.teamMembers(teamID: access.team.id).map(TeamViews.Member.init)))
    }

    @Sendable func addMember(_ request: Request, context: UserContext, access: TeamAccess) async throws -> Response {
        struct Body: Decodable {
            var email: String
            var role: TeamRole?
        }
        let (body, _) = try await APIJSON.body(Body.self, from: request, allowing: ["email", "role"])
        let role = try Self.grantable(body.role ?? .member, by: access)
        guard let user = try await api.store.user(email: body.email.trimmingCharacters(in: .whitespaces)), !Self.isWallet(user) else {
            throw GatewayError.notFound("No user has this email; invite them instead.")
        }
        guard try await api.store.teamMembers(teamID: access.team.id).count < Self.maxMembers else {
            throw GatewayError.conflict("The team has \(Self.maxMembers) members, the most allowed.")
        }
        guard let member = try await api.store.addTeamMember(teamID: access.team.id, userID: user.id, role: role, at: Date()) else {
            throw GatewayError.conflict("This user is a member already.", param: "email")
        }
        await api.log("member_added", access, context, detail: "user \(user.id) as \(role.rawValue)")
        return try APIJSON.response(TeamViews.Member(member), status: .created)
    }

    @Sendable func changeMember(_ request: Request, context: UserContext, access: TeamAccess) async throws -> Response {
        struct Body: Decodable {
            var role: TeamRole?
            var spendLimit: CreditAmount?
        }
        let (body, raw) = try await APIJSON.body(Body.self, from: request, allowing: ["role", "spend_limit"])
        let target = try await member(context, of: access)
        guard access.mayManage(target) else { throw GatewayError.teamRoleRequired(target.role == .owner ? "owner (use transfer)" : "owner") }
        let role = try body.role.map { try Self.grantable($0, by: access) }
        // `"spend_limit": null` removes the limit; leaving the field out keeps it.
        let limitGiven = APIJSON.hasKey("spend_limit", in: raw)
        if let limit = body.spendLimit, limit.credits <= .zero {
            throw GatewayError.invalidRequest("`spend_limit` must be positive.", param: "spend_limit")
        }
        let spendLimit: Credits?? = limitGiven ? .some(body.spendLimit?.credits) : .none
        guard let changed = try await api.store.updateTeamMember(teamID: access.team.id, userID: target.userID, role: role, spendLimit: spendLimit)
        else { throw GatewayError.notFound("No such member.") }
        if limitGiven {
            // Cached team keys carry the limit; the budget carries what is left of it.
            api.keyCache.forget(membershipID: changed.id)
            await api.spendingLimits.invalidate(.member(membershipID: changed.id))
        }
        await api.log("member_changed", access, context, detail: "user \(target.userID): role \(changed.role.rawValue), limit \(changed.spendLimit.map { "\($0)" } ?? "none")")
        return try APIJSON.response(TeamViews.Member(changed))
    }

    @Sendable func removeMember(_ request: Request, context: UserContext, access: TeamAccess) async throws -> Response {
        let target = try await member(context, of: access)
        guard access.mayManage(target) else { throw GatewayError.teamRoleRequired("owner") }
        try await remove(target, from: access, context: context, action: "member_removed")
        return APIJSON.noContent()
    }

    @Sendable func leave(_ request: Request, context: UserContext, access: TeamAccess) async throws -> Response {
        guard let me = access.member else { throw GatewayError.notFound("You are not a member of this team.") }
        guard me.role != .owner else {
            throw GatewayError.conflict("The owner cannot leave; transfer ownership to another member first.")
        }
        try await remove(me, from: access, context: context, action: "member_left")
        return APIJSON.noContent()
    }

    @Sendable func transfer(_ request: Request, context: UserContext, access: TeamAccess) async throws -> Response {
        struct Body: Decodable { var userId: Int64 }
        let (body, _) = try await APIJSON.body(Body.self, from: request, allowing: ["user_id"])
        guard try await api.store.transferTeamOwnership(teamID: access.team.id, toUserID: body.userId),
              let owner = try await api.store.teamMember(teamID: access.team.id, userID: body.userId)
        else { throw GatewayError.conflict("Only a member of the team can become its owner.", param: "user_id") }
        await api.log("ownership_transferred", access, context, detail: "to user \(body.userId)")
        return try APIJSON.response(TeamViews.Member(owner))
    }

    // MARK: - Helpers

    private func remove(_ target: TeamMemberRecord, from access: TeamAccess, context: UserContext, action: String) async throws {
        guard let revoked = try await api.store.removeTeamMember(teamID: access.team.id, userID: target.userID, at: Date()) else {
            throw GatewayError.notFound("No such member.")
        }
        revoked.forEach(api.keyCache.forget(hash:))
        await api.log(action, access, context, detail: "user \(target.userID); \(revoked.count) team keys revoked")
    }

    /// The member at `{user_id}`; anyone else is a 404.
    private func member(_ context: UserContext, of access: TeamAccess) async throws -> TeamMemberRecord {
        let userID = try APIServices.id(context, "user_id")
        guard let member = try await api.store.teamMember(teamID: access.team.id, userID: userID) else { throw GatewayError.notFound("No such member.") }
        return member
    }

    /// A role the caller may hand out: members and admins by owners (and site admins), members by admins.
    static func grantable(_ role: TeamRole, by access: TeamAccess) throws -> TeamRole {
        guard role != .owner else { throw GatewayError.invalidRequest("`role` must be admin or member; use transfer for the owner.", param: "role") }
        guard role == .member || access.role == .owner else { throw GatewayError.teamRoleRequired("owner") }
        return role
    }

    static func validName(_ name: String) throws -> String {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...100).contains(trimmed.count) else { throw GatewayError.invalidRequest("`name` must be 1 to 100 characters.", param: "name") }
        return trimmed
    }

    /// A team's wallet is a `users` row too, never a person to add.
    static func isWallet(_ user: UserRecord) -> Bool { user.email.lowercased().hasSuffix(TeamWallet.emailDomain) }
}

/// Where team wallets' placeholder addresses live: a reserved `.invalid` domain, so no mail goes
/// there and no person signs up with one.
enum TeamWallet {
    static let emailDomain = "@teams.sluice.invalid"
}

extension APIServices {
    /// Records the action in the team's activity log (the wallet's), with the signed-in actor.
    func log(_ action: String, _ access: TeamAccess, _ context: UserContext, detail: String) async {
        await log(action, user: access.team.walletUserID, actor: context.user.id, context: context, detail: detail)
    }
}
