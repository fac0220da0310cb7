import SluiceCore
import SluiceStore

/// Who may do what to a team: the RBAC matrix, in one table.
///
/// Each team route names its action; `EndpointRegistry.team` checks the caller against this
/// table before the handler runs, and the OpenAPI document lists each route's minimum role
/// (`x-team-role`), so the matrix in `docs/teams.md` is this table, not a copy kept by hand.
///
/// - A member of the team may do what their role, or any role below it, may do.
/// - A site admin may do everything, member or not.
/// - Anyone else gets 404 for the team and everything in it: another team is not there at all.
/// - A member whose role is too low gets 403 `team_role_required`.
///
/// Rules that depend on whom an action touches, not only on who acts, live in the handlers and
/// are listed with the matrix: an admin changes and removes members but not the owner or other
/// admins; a member may always leave except the owner, who transfers ownership first; a member
/// sees and revokes their own team keys, admins every member's.
enum TeamAction: String, CaseIterable, Sendable {
    case viewTeam = "view_team"
    case renameTeam = "rename_team"
    case viewMembers = "view_members"
    case addMember = "add_member"
    case changeMember = "change_member"
    case removeMember = "remove_member"
    case leaveTeam = "leave_team"
    case transferOwnership = "transfer_ownership"
    case invite
    case viewInvitations = "view_invitations"
    case revokeInvitation = "revoke_invitation"
    case useKeys = "use_keys"
    case viewWallet = "view_wallet"
    case redeemCode = "redeem_code"
    case buyCredits = "buy_credits"
    case viewAccounts = "view_accounts"
    case manageAccounts = "manage_accounts"
    case viewUsage = "view_usage"
    case viewActivity = "view_activity"

    /// The lowest role that may take the action.
    var minimumRole: TeamRole {
        switch self {
        case .viewTeam, .viewMembers, .leaveTeam, .useKeys, .redeemCode, .viewAccounts: .member
        case .renameTeam, .addMember, .changeMember, .removeMember, .invite, .viewInvitations, .revokeInvitation, .viewWallet,
            .buyCredits, .manageAccounts, .viewUsage, .viewActivity:
            .admin
        case .transferOwnership: .owner
        }
    }
}

/// What a team route learned about its caller: the team, their membership (nil for a site admin
/// who is not a member), and the role they act with.
struct TeamAccess: Sendable {
    let team: TeamRecord
    let member: TeamMemberRecord?
    /// The member's role; a site admin acts as an owner.
    let role: TeamRole

    /// The rule of the matrix, for `user` and `team`: 404 for a stranger, 403 below the role.
    static func check(_ action: TeamAction, user: UserRecord, team: TeamRecord?, member: TeamMemberRecord?) throws -> TeamAccess {
        guard let team, member != nil || user.role == .admin else { throw GatewayError.notFound("No such team.") }
        let role = user.role == .admin ? TeamRole.owner : member?.role ?? .member
        guard role >= action.minimumRole else { throw GatewayError.teamRoleRequired(action.minimumRole.rawValue) }
        return TeamAccess(team: team, member: member, role: role)
    }

    /// Whether the caller outranks `target` enough to change or remove them: owners and site
    /// admins anyone but the owner, admins only members.
    func mayManage(_ target: TeamMemberRecord) -> Bool {
        guard target.role != .owner else { return false }
        return role == .owner || target.role == .member
    }
}
