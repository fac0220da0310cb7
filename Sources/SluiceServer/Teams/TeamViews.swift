import Foundation
import SluiceStore

/// How teams, members and invitations look in the API.
enum TeamViews {
    struct Team: Encodable {
        var id: Int64
        var name: String
        var balance: CreditAmount
        var plan: String
        /// The caller's role; a site admin who is not a member sees none.
        var role: TeamRole?
        var createdAt: Date

        init(_ team: TeamRecord, role: TeamRole?) {
            id = team.id
            name = team.name
            balance = CreditAmount(team.balance)
            plan = team.plan
            self.role = role
            createdAt = team.createdAt
        }

        enum CodingKeys: CodingKey { case id, name, balance, plan, role, createdAt }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(name, forKey: .name)
            try c.encode(balance, forKey: .balance)
            try c.encode(plan, forKey: .plan)
            try c.encode(role, forKey: .role)  // an explicit null: not a member
            try c.encode(createdAt, forKey: .createdAt)
        }
    }

    struct Member: Encodable {
        var userId: Int64
        var email: String
        var role: TeamRole
        var spendLimit: CreditAmount?
        var spent: CreditAmount
        var joinedAt: Date

        init(_ member: TeamMemberRecord) {
            userId = member.userID
            email = member.email
            role = member.role
            spendLimit = member.spendLimit.map(CreditAmount.init)
            spent = CreditAmount(member.spent)
            joinedAt = member.joinedAt
        }

        enum CodingKeys: CodingKey { case userId, email, role, spendLimit, spent, joinedAt }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(userId, forKey: .userId)
            try c.encode(email, forKey: .email)
            try c.encode(role, forKey: .role)
            try c.encode(spendLimit, forKey: .spendLimit)  // an explicit null: no limit
            try c.encode(spent, forKey: .spent)
            try c.encode(joinedAt, forKey: .joinedAt)
        }
    }

    struct Invitation: Encodable {
        var id: Int64
        var email: String
        var role: TeamRole
        var invitedBy: Int64
        var createdAt: Date
        var expiresAt: Date
        /// Only in the answer to making the invitation: the secret of the link.
        var token: String?

        init(_ invitation: TeamInvitationRecord, token: String? = nil) {
            id = invitation.id
            email = invitation.email
            role = invitation.role
            invitedBy = invitation.invitedBy
            createdAt = invitation.createdAt
            expiresAt = invitation.expiresAt
            self.token = token
        }
    }

    struct MemberUsage: Encodable {
        var userId: Int64
        var email: String
        var requests: Int
        var promptTokens: Int
        var completionTokens: Int
        var credits: CreditAmount

        init(_ usage: TeamMemberUsage) {
            userId = usage.userID
            email = usage.email
            requests = usage.requests
            promptTokens = usage.promptTokens
            completionTokens = usage.completionTokens
            credits = CreditAmount(usage.cost)
        }
    }

    struct List<Item: Encodable>: Encodable { var data: [Item] }

    static let roles = Schema.string(values: TeamRole.allCases.map(\.rawValue))

    /// The components the team routes refer to, for `/openapi.json`.
    static let schemas: [String: Schema] = [
        "Team": .object([
            ("id", .integer), ("name", .text), ("balance", .credits), ("plan", .text), ("role", .nullable(roles)), ("created_at", .time),
        ]),
        "TeamMember": .object([
            ("user_id", .integer), ("email", .text), ("role", roles), ("spend_limit", .nullable(.credits)), ("spent", .credits),
            ("joined_at", .time),
        ]),
        "TeamInvitation": .object([
            ("id", .integer), ("email", .text), ("role", roles), ("invited_by", .integer), ("created_at", .time), ("expires_at", .time),
            ("token", .text),
        ]),
        "TeamMemberUsage": .object([
            ("user_id", .integer), ("email", .text), ("requests", .integer), ("prompt_tokens", .integer), ("completion_tokens", .integer),
            ("credits", .credits),
        ]),
    ]
}
