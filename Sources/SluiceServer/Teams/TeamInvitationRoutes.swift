import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// Invitations by email: a single-use link secret that expires, for one address. The answer to
/// making one holds the secret once, for an admin to pass on when the gateway sends no mail.
struct TeamInvitationRoutes {
    let api: APIServices

    static let lifetime: TimeInterval = 7 * 24 * 3600
    /// Pending invitations one team may have at once.
    static let maxPending = 200

    func register(on registry: EndpointRegistry) {
        let invitation = Schema.ref("TeamInvitation")
        registry.team(
            Endpoint(
                method: .post, path: "/api/teams/{id}/invitations",
                summary: """
                    Invite an address as a member or admin (admins only by owners). The link works once, for seven days; a newer \
                    invitation to the same address replaces it. The token is in this answer only, and mailed when mail is set up.
                    """,
                request: .object([("email", .string(length: 3...320, pattern: "@")), ("role", .nullable(.string(values: ["admin", "member"])))],
                    required: ["email"], closed: true),
                status: 201, response: invitation, errors: [409], tag: "teams"), .invite, store: api.store, invite)
        registry.team(
            Endpoint(method: .get, path: "/api/teams/{id}/invitations", summary: "Pending invitations, newest first.",
                response: .object([("data", .array(invitation))]), tag: "teams"), .viewInvitations, store: api.store, pending)
        registry.team(
            Endpoint(method: .delete, path: "/api/teams/{id}/invitations/{invitation_id}", summary: "Withdraw a pending invitation.",
                status: 204, tag: "teams"), .revokeInvitation, store: api.store, revoke)
        registry.user(
            Endpoint(
                method: .post, path: "/api/team-invitations/accept",
                summary: "Accept an invitation sent to your address; you join with its role. A token works once.",
                request: .object([("token", .nonEmptyText)], required: ["token"], closed: true), response: .ref("Team"), errors: [409, 429, 503],
                tag: "teams"), accept)
    }

    @Sendable func invite(_ request: Request, context: UserContext, access: TeamAccess) async throws -> Response {
        struct Body: Decodable {
            var email: String
            var role: TeamRole?
        }
        let (body, _) = try await APIJSON.body(Body.self, from: request, allowing: ["email", "role"])
        let email = body.email.trimmingCharacters(in: .whitespaces).lowercased()
        guard email.count <= 320, email.contains("@"), !email.hasSuffix(TeamWallet.emailDomain) else {
            throw GatewayError.invalidRequest("`email` must be an email address.", param: "email")
        }
        let role = try TeamRoutes.grantable(body.role ?? .member, by: access)
        if let user = try await api.store.user(email: email), try await api.store.teamMember(teamID: access.team.id, userID: user.id) != nil {
            throw GatewayError.conflict("This address belongs to a member already.", param: "email")
        }
        let now = Date()
        guard try await api.store.teamInvitations(teamID: access.team.id, now: now).count < Self.maxPending else {
            throw GatewayError.conflict("The team has \(Self.maxPending) pending invitations, the most allowed.")
        }
        let token = "ti_" + AccessTokens.randomToken(bytes: 32)
        let invitation = try await api.store.createTeamInvitation(NewTeamInvitation(
            teamID: access.team.id, email: email, role: role, tokenHash: KeyAuthenticator.hash(token), invitedBy: context.user.id,
            createdAt: now, expiresAt: now.addingTimeInterval(Self.lifetime)))
        if let mailer = api.mailer {
            await mailer.send(MailTemplates.teamInvitation(
                to: email, team: access.team.name, role: role.rawValue, token: token, baseURL: mailer.baseURL, ttlDays: Int(Self.lifetime / 86_400)))
        }
        await api.log("member_invited", access, context, detail: "invitation \(invitation.id) as \(role.rawValue)")
        return try APIJSON.response(TeamViews.Invitation(invitation, token: token), status: .created)
    }

    @Sendable func pending(_ request: Request, context: UserContext, access: TeamAccess) async throws -> Response {
        let invitations = try await api.store.teamInvitations(teamID: access.team.id, now: Date())
        return try APIJSON.response(TeamViews.List(data: invitations.map { TeamViews.Invitation($0) }))
    }

    @Sendable func revoke(_ request: Request, context: UserContext, access: TeamAccess) async throws -> Response {
        let id = try APIServices.id(context, "invitation_id")
        guard try await api.store.revokeTeamInvitation(teamID: access.team.id, id: id) else { throw GatewayError.notFound("No such invitation.") }
        await api.log("invitation_withdrawn", access, context, detail: "invitation \(id)")
        return APIJSON.noContent()
    }

    @Sendable func accept(_ request: Request, context: UserContext) async throws -> Response {
        struct Body: Decodable { var token: String }
        let (body, _) = try await APIJSON.body(Body.self, from: request, allowing: ["token"])
        let user = context.user
        // Counted like any secret a caller may guess at.
        try await api.admitSignIn(account: "team-invitation:\(user.id)", context: context)
        switch try await api.store.acceptTeamInvitation(tokenHash: KeyAuthenticator.hash(body.token), userID: user.id, email: user.email, at: Date()) {
        case .accepted(let member):
            guard let team = try await api.store.team(id: member.teamID) else { throw GatewayError.notFound("No such team.") }
            await api.log("member_joined", user: team.walletUserID, actor: user.id, context: context, detail: "user \(user.id) as \(member.role.rawValue)")
            return try APIJSON.response(TeamViews.Team(team, role: member.role))
        case .alreadyMember:
            throw GatewayError.conflict("You are a member of this team already.", param: "token")
        case .invalid, .wrongAddress:
            // One answer for both: a token for another address tells its holder nothing.
            throw GatewayError.invalidLink
        }
    }
}
