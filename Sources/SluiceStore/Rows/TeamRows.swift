import Foundation
import SluiceCore

/// Teams' records built from stored rows, and the SQL both stores select them with (the two
/// dialects agree on these statements; each store adds its own placeholders after them).
enum TeamSQL {
    /// A team with its wallet's balance and plan.
    static let team = """
        SELECT t.id, t.name, t.wallet_user_id, t.created_at, w.balance_micros, w.plan
        FROM teams t JOIN users w ON w.id = t.wallet_user_id
        """
    /// A membership with the member's address.
    static let member = "SELECT m.*, u.email FROM team_members m JOIN users u ON u.id = m.user_id"
    /// A membership with its team's columns named `team_…` (`TeamRecord(row:prefix: "team_")`).
    static let membership = """
        SELECT m.*, u.email, t.name AS team_name, t.wallet_user_id AS team_wallet_user_id, t.created_at AS team_created_at,
            w.balance_micros AS team_balance_micros, w.plan AS team_plan
        FROM team_members m JOIN users u ON u.id = m.user_id JOIN teams t ON t.id = m.team_id JOIN users w ON w.id = t.wallet_user_id
        """
    /// Owner first, then by when they joined.
    static let memberOrder = " ORDER BY CASE WHEN m.role = 'owner' THEN 0 ELSE 1 END, m.created_at, m.id"
    /// An API key with its owner's columns and, for a team key, its member's (see `APIKeyRecord(row:)`).
    static let apiKey = """
        SELECT k.*, u.status, u.pool_preference, u.plan, u.trust_level, m.id AS member_id, m.user_id AS member_user_id,
            m.spend_limit_micros AS member_spend_limit_micros, mu.status AS member_status
        FROM api_keys k JOIN users u ON u.id = k.user_id
            LEFT JOIN team_members m ON m.id = k.team_member_id LEFT JOIN users mu ON mu.id = m.user_id
        """

    /// Each current member's requests, tokens and charges through their team keys, members with
    /// none included; `team` is the placeholder for the team's id, used twice. The usage rows are
    /// found by the wallet (`usage_logs_user`), then attributed by their key's membership.
    static func usageByMember(team: String) -> String {
        """
        SELECT m.user_id, u.email, coalesce(s.requests, 0) AS requests, coalesce(s.prompt, 0) AS prompt,
            coalesce(s.completion, 0) AS completion, coalesce(s.cost, 0) AS cost
        FROM team_members m JOIN users u ON u.id = m.user_id
        LEFT JOIN (
            SELECT k.team_member_id, count(*) AS requests, CAST(sum(l.prompt_tokens) AS BIGINT) AS prompt,
                CAST(sum(l.completion_tokens) AS BIGINT) AS completion, CAST(sum(l.cost_micros) AS BIGINT) AS cost
            FROM usage_logs l JOIN api_keys k ON k.id = l.api_key_id
            WHERE l.user_id = (SELECT wallet_user_id FROM teams WHERE id = \(team)) AND k.team_member_id IS NOT NULL
            GROUP BY k.team_member_id
        ) s ON s.team_member_id = m.id
        WHERE m.team_id = \(team)
        ORDER BY coalesce(s.cost, 0) DESC, m.user_id
        """
    }

    /// Whether an invitation's address is the user's: compared without case, the same on every store.
    static func sameAddress(_ a: String, _ b: String) -> Bool { a.lowercased() == b.lowercased() }

    /// The wallet's address: unique, and in a domain that receives no mail (RFC 2606).
    static func walletEmail() -> String { "team-\(UUID().uuidString.lowercased())@teams.sluice.invalid" }
}

extension TeamRecord {
    /// From `TeamSQL.team`'s columns, or `TeamSQL.membership`'s with `prefix` "team_".
    init(row: some StoreRow, prefix: String = "") throws {
        self.init(
            id: try row.int(required: prefix + "id"), name: try row.text(required: prefix + "name"),
            walletUserID: try row.int(required: prefix + "wallet_user_id"),
            balance: Credits(micros: try row.int(required: prefix + "balance_micros")), plan: try row.text(required: prefix + "plan"),
            createdAt: try row.date(required: prefix + "created_at"))
    }
}

extension TeamMemberRecord {
    /// From a `team_members` row joined with the member's `email`.
    init(row: some StoreRow) throws {
        self.init(
            id: try row.int(required: "id"), teamID: try row.int(required: "team_id"), userID: try row.int(required: "user_id"),
            email: try row.text(required: "email"), role: TeamRole(rawValue: try row.text(required: "role")) ?? .member,
            spendLimit: try row.int("spend_limit_micros").map(Credits.init(micros:)), spent: Credits(micros: try row.int(required: "spent_micros")),
            joinedAt: try row.date(required: "created_at"))
    }
}

extension TeamMembership {
    init(row: some StoreRow) throws {
        self.init(team: try TeamRecord(row: row, prefix: "team_"), member: try TeamMemberRecord(row: row))
    }
}

extension TeamInvitationRecord {
    init(row: some StoreRow) throws {
        self.init(
            id: try row.int(required: "id"), teamID: try row.int(required: "team_id"), email: try row.text(required: "email"),
            role: TeamRole(rawValue: try row.text(required: "role")) ?? .member, invitedBy: try row.int(required: "invited_by"),
            createdAt: try row.date(required: "created_at"), expiresAt: try row.date(required: "expires_at"),
            acceptedAt: try row.date("accepted_at"))
    }
}

extension TeamMemberUsage {
    /// From a row of `user_id`, `email` and the `requests`, `prompt`, `completion` and `cost` sums.
    init(row: some StoreRow) throws {
        self.init(
            userID: try row.int(required: "user_id"), email: try row.text(required: "email"), requests: try row.count("requests"),
            promptTokens: try row.count("prompt"), completionTokens: try row.count("completion"),
            cost: Credits(micros: try row.int("cost") ?? 0))
    }
}

extension TeamKeyMember {
    /// The member behind a team key (`team_member_id`), from `TeamSQL.apiKey`'s `member_…`
    /// columns; nil when the membership has ended.
    init?(row: some StoreRow, membershipID: Int64) throws {
        guard try row.int("member_id") != nil else { return nil }
        self.init(
            membershipID: membershipID, userID: try row.int(required: "member_user_id"),
            status: UserStatus(rawValue: try row.text(required: "member_status")) ?? .disabled,
            spendLimit: try row.int("member_spend_limit_micros").map(Credits.init(micros:)))
    }
}
