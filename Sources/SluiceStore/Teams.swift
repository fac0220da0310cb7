import Foundation
import SluiceCore

/// Teams: a shared wallet, its members and their roles, and invitations to join.
///
/// A team's money lives on a wallet account: a `users` row of kind `team` that cannot sign in, as
/// GitHub keeps an organisation in the table of its users. Everything that moves a user's balance
/// (holds, settlement, ledger, grants, codes, payments, plans) therefore moves a team's the same
/// way, and an account or API key owned by the wallet is the team's. Team API keys belong to the
/// wallet and name the member who made them (`api_keys.team_member_id`), whose spending limit is
/// held and settled alongside the key's.
public protocol TeamStore: Sendable {
    /// Creates the wallet account, the team and the owner's membership in one transaction.
    func createTeam(name: String, ownerUserID: Int64, at: Date) async throws -> TeamRecord
    func team(id: Int64) async throws -> TeamRecord?
    /// Every team, newest first; for site admins.
    func teams(page: PageRequest) async throws -> [TeamRecord]
    /// The teams a user belongs to, with their membership in each, oldest membership first.
    func teams(memberUserID: Int64) async throws -> [TeamMembership]
    func renameTeam(id: Int64, name: String) async throws -> TeamRecord?

    /// Members, owner first, then by when they joined.
    func teamMembers(teamID: Int64) async throws -> [TeamMemberRecord]
    func teamMember(teamID: Int64, userID: Int64) async throws -> TeamMemberRecord?
    /// Adds an existing user; nil when they are a member already.
    func addTeamMember(teamID: Int64, userID: Int64, role: TeamRole, at: Date) async throws -> TeamMemberRecord?
    /// Changes a member's role or spending limit (`.some(nil)` removes the limit). Nil when the
    /// user is not a member. Never makes or unmakes an owner: that is `transferTeamOwnership`.
    func updateTeamMember(teamID: Int64, userID: Int64, role: TeamRole?, spendLimit: Credits??) async throws -> TeamMemberRecord?
    /// Ends a membership and revokes the member's team keys in one transaction. Returns the
    /// revoked keys' hashes, for the key cache; nil when the user was not a member.
    func removeTeamMember(teamID: Int64, userID: Int64, at: Date) async throws -> [String]?
    /// Makes `toUserID` (a member) the owner and the current owner an admin, atomically. False
    /// when `toUserID` is not a member.
    func transferTeamOwnership(teamID: Int64, toUserID: Int64) async throws -> Bool
    /// What a member may still spend of their limit; nil without a limit or a membership.
    func memberSpendRemaining(membershipID: Int64) async throws -> Credits?

    /// Stores an invitation; an earlier pending one to the same address for the team is replaced.
    func createTeamInvitation(_ invitation: NewTeamInvitation) async throws -> TeamInvitationRecord
    /// Pending invitations (neither accepted nor expired at `now`), newest first.
    func teamInvitations(teamID: Int64, now: Date) async throws -> [TeamInvitationRecord]
    /// Withdraws a pending invitation; false when the team has no such pending invitation.
    func revokeTeamInvitation(teamID: Int64, id: Int64) async throws -> Bool
    /// Uses an invitation once: marks it accepted and adds the user with its role, in one
    /// transaction. The user's address must be the one invited (case-insensitively).
    func acceptTeamInvitation(tokenHash: String, userID: Int64, email: String, at: Date) async throws -> TeamInvitationAcceptance

    /// Issues a team key: owned by the team's wallet, made by (and limited with) this membership.
    func createTeamAPIKey(
        walletUserID: Int64, membershipID: Int64, name: String, keyHash: String, prefix: String, limits: APIKeyLimits
    ) async throws -> Int64
    /// Requests, tokens and charges per member over the team's usage log, members with none included.
    func teamUsageByMember(teamID: Int64) async throws -> [TeamMemberUsage]
}

public enum TeamRole: String, Sendable, Codable, CaseIterable, Comparable {
    case owner, admin, member

    /// Owners outrank admins, who outrank members.
    public var rank: Int {
        switch self {
        case .owner: 2
        case .admin: 1
        case .member: 0
        }
    }

    public static func < (a: TeamRole, b: TeamRole) -> Bool { a.rank < b.rank }
}

public struct TeamRecord: Sendable, Equatable {
    public var id: Int64
    public var name: String
    /// The `users` row that holds the team's credits, plan, accounts and keys.
    public var walletUserID: Int64
    public var balance: Credits
    public var plan: String
    public var createdAt: Date

    public init(id: Int64, name: String, walletUserID: Int64, balance: Credits, plan: String, createdAt: Date) {
        self.id = id
        self.name = name
        self.walletUserID = walletUserID
        self.balance = balance
        self.plan = plan
        self.createdAt = createdAt
    }
}

public struct TeamMemberRecord: Sendable, Equatable {
    /// The membership's own id, which team keys and the member's spending limit are kept under.
    public var id: Int64
    public var teamID: Int64
    public var userID: Int64
    public var email: String
    public var role: TeamRole
    /// Credits the member may spend from the wallet over the membership's life; nil: no limit.
    public var spendLimit: Credits?
    public var spent: Credits
    public var joinedAt: Date

    public init(
        id: Int64, teamID: Int64, userID: Int64, email: String, role: TeamRole, spendLimit: Credits?, spent: Credits, joinedAt: Date
    ) {
        self.id = id
        self.teamID = teamID
        self.userID = userID
        self.email = email
        self.role = role
        self.spendLimit = spendLimit
        self.spent = spent
        self.joinedAt = joinedAt
    }
}

public struct TeamMembership: Sendable, Equatable {
    public var team: TeamRecord
    public var member: TeamMemberRecord

    public init(team: TeamRecord, member: TeamMemberRecord) {
        self.team = team
        self.member = member
    }
}

public struct NewTeamInvitation: Sendable, Equatable {
    public var teamID: Int64
    public var email: String
    public var role: TeamRole
    /// Hex SHA-256 of the token in the link; the token itself is never stored.
    public var tokenHash: String
    public var invitedBy: Int64
    public var createdAt: Date
    public var expiresAt: Date

    public init(teamID: Int64, email: String, role: TeamRole, tokenHash: String, invitedBy: Int64, createdAt: Date, expiresAt: Date) {
        self.teamID = teamID
        self.email = email
        self.role = role
        self.tokenHash = tokenHash
        self.invitedBy = invitedBy
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

public struct TeamInvitationRecord: Sendable, Equatable {
    public var id: Int64
    public var teamID: Int64
    public var email: String
    public var role: TeamRole
    public var invitedBy: Int64
    public var createdAt: Date
    public var expiresAt: Date
    public var acceptedAt: Date?

    public init(
        id: Int64, teamID: Int64, email: String, role: TeamRole, invitedBy: Int64, createdAt: Date, expiresAt: Date, acceptedAt: Date?
    ) {
        self.id = id
        self.teamID = teamID
        self.email = email
        self.role = role
        self.invitedBy = invitedBy
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.acceptedAt = acceptedAt
    }
}

public enum TeamInvitationAcceptance: Sendable, Equatable {
    case accepted(TeamMemberRecord)
    /// Unknown, used, withdrawn or expired: a link works once and for a while.
    case invalid
    /// The invitation is for another address; it stays usable by that address.
    case wrongAddress
    /// The user is a member already; the invitation is used up.
    case alreadyMember(teamID: Int64)
}

public struct TeamMemberUsage: Sendable, Equatable {
    public var userID: Int64
    public var email: String
    public var requests: Int
    public var promptTokens: Int
    public var completionTokens: Int
    public var cost: Credits

    public init(userID: Int64, email: String, requests: Int, promptTokens: Int, completionTokens: Int, cost: Credits) {
        self.userID = userID
        self.email = email
        self.requests = requests
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.cost = cost
    }
}

/// The member behind a team key, joined in with the key for the hot path.
public struct TeamKeyMember: Sendable, Equatable {
    public var membershipID: Int64
    public var userID: Int64
    public var status: UserStatus
    /// The member's spending limit on the wallet; their spend is held against it when set.
    public var spendLimit: Credits?

    public init(membershipID: Int64, userID: Int64, status: UserStatus, spendLimit: Credits?) {
        self.membershipID = membershipID
        self.userID = userID
        self.status = status
        self.spendLimit = spendLimit
    }
}
