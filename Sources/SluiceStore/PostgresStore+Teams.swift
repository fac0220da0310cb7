import Foundation
import PostgresNIO
import SluiceCore

/// Teams on PostgreSQL. Changes to who owns a team, and removals, lock the team's row first, so
/// they take turns per team and each sees the roles the previous one left.
extension PostgresStore {
    // MARK: Teams

    public func createTeam(name: String, ownerUserID: Int64, at: Date) async throws -> TeamRecord {
        try await transaction { connection in
            let wallet = try await connection.inserted(
                """
                INSERT INTO users (email, role, plan, balance_micros, status, kind, created_at)
                VALUES (\(TeamSQL.walletEmail()), 'user', 'free', 0, 'active', 'team', \(at.unixMillis)) RETURNING id
                """, logger: self.logger
            ).int(required: "id")
            let teamID = try await connection.inserted(
                "INSERT INTO teams (name, wallet_user_id, created_at) VALUES (\(name), \(wallet), \(at.unixMillis)) RETURNING id",
                logger: self.logger
            ).int(required: "id")
            try await connection.execute(
                "INSERT INTO team_members (team_id, user_id, role, created_at) VALUES (\(teamID), \(ownerUserID), 'owner', \(at.unixMillis))",
                logger: self.logger)
            guard let team = try await self.team(connection, id: teamID) else { throw StoreDecodingError(column: "id") }
            return team
        }
    }

    public func team(id: Int64) async throws -> TeamRecord? {
        try await first("\(unescaped: TeamSQL.team) WHERE t.id = \(id)").map { try TeamRecord(row: $0) }
    }

    public func teams(page: PageRequest) async throws -> [TeamRecord] {
        try await all(
            """
            \(unescaped: TeamSQL.team) WHERE (\(page.beforeID)::bigint IS NULL OR t.id < \(page.beforeID)::bigint)
            ORDER BY t.id DESC LIMIT \(page.limit) OFFSET \(page.offset)
            """
        ).map { try TeamRecord(row: $0) }
    }

    public func teams(memberUserID: Int64) async throws -> [TeamMembership] {
        try await all("\(unescaped: TeamSQL.membership) WHERE m.user_id = \(memberUserID) ORDER BY m.created_at, m.id")
            .map(TeamMembership.init(row:))
    }

    public func renameTeam(id: Int64, name: String) async throws -> TeamRecord? {
        try await first(
            """
            WITH t AS (UPDATE teams SET name = \(name) WHERE id = \(id) RETURNING *)
            SELECT t.id, t.name, t.wallet_user_id, t.created_at, w.balance_micros, w.plan FROM t JOIN users w ON w.id = t.wallet_user_id
            """
        ).map { try TeamRecord(row: $0) }
    }

    // MARK: Members

    public func teamMembers(teamID: Int64) async throws -> [TeamMemberRecord] {
        try await all("\(unescaped: TeamSQL.member) WHERE m.team_id = \(teamID)\(unescaped: TeamSQL.memberOrder)").map(TeamMemberRecord.init(row:))
    }

    public func teamMember(teamID: Int64, userID: Int64) async throws -> TeamMemberRecord? {
        try await teamMember(client, teamID: teamID, userID: userID)
    }

    public func addTeamMember(teamID: Int64, userID: Int64, role: TeamRole, at: Date) async throws -> TeamMemberRecord? {
        try await addTeamMember(client, teamID: teamID, userID: userID, role: role, at: at)
    }

    public func updateTeamMember(teamID: Int64, userID: Int64, role: TeamRole?, spendLimit: Credits??) async throws -> TeamMemberRecord? {
        // The owner's role stays, and no one is made owner here: that is a transfer. The CASE is
        // evaluated on the row as it is when the update gets its lock, after any transfer.
        let newRole = role == .owner ? nil : role?.rawValue
        let setsLimit = spendLimit != nil
        let limit = spendLimit.flatMap { $0 }?.micros
        return try await first(
            """
            WITH m AS (
                UPDATE team_members SET role = CASE WHEN role = 'owner' THEN role ELSE coalesce(\(newRole)::text, role) END,
                    spend_limit_micros = CASE WHEN \(setsLimit) THEN \(limit)::bigint ELSE spend_limit_micros END
                WHERE team_id = \(teamID) AND user_id = \(userID) RETURNING *)
            SELECT m.*, u.email FROM m JOIN users u ON u.id = m.user_id
            """
        ).map(TeamMemberRecord.init(row:))
    }

    public func removeTeamMember(teamID: Int64, userID: Int64, at: Date) async throws -> [String]? {
        try await transaction { connection in
            try await self.lockTeam(connection, id: teamID)
            // The owner stays: a team has exactly one, and ownership moves by transfer. The team's
            // lock keeps the membership as read until this commits; its row is not locked yet.
            guard
                let member = try await connection.first(
                    "SELECT id, role FROM team_members WHERE team_id = \(teamID) AND user_id = \(userID)", logger: self.logger),
                try member.text(required: "role") != TeamRole.owner.rawValue
            else { return nil }
            let membershipID = try member.int(required: "id")
            // Rows in the settlement writer's order, keys (by id) before the membership: a batch
            // that charges this member's key locks the key and then the membership, and taking
            // them the other way round here would deadlock with it.
            _ = try await connection.all(
                "SELECT id FROM api_keys WHERE team_member_id = \(membershipID) AND revoked_at IS NULL ORDER BY id FOR UPDATE", logger: self.logger)
            let revoked = try await connection.all(
                """
                UPDATE api_keys SET revoked_at = \(at.unixMillis) WHERE team_member_id = \(membershipID) AND revoked_at IS NULL
                RETURNING id, key_hash, user_id, prefix
                """, logger: self.logger)
            if self.webhookFilter.wants(.keyRevoked) {
                for key in revoked {
                    let payload = WebhookPayload.Key(
                        userId: try key.int(required: "user_id"), keyId: try key.int(required: "id"), prefix: try key.text(required: "prefix"))
                    try await self.outbox(connection, userID: payload.userId, type: .keyRevoked, payload: try WebhookPayload.text(payload))
                }
            }
            try await connection.execute("DELETE FROM team_members WHERE id = \(membershipID)", logger: self.logger)
            return try revoked.map { try $0.text(required: "key_hash") }
        }
    }

    public func transferTeamOwnership(teamID: Int64, toUserID: Int64) async throws -> Bool {
        try await transaction { connection in
            try await self.lockTeam(connection, id: teamID)
            guard
                let role = try await connection.first(
                    "SELECT role FROM team_members WHERE team_id = \(teamID) AND user_id = \(toUserID)", logger: self.logger
                )?.text("role")
            else { return false }
            guard role != TeamRole.owner.rawValue else { return true }
            // In this order: the index that allows one owner per team holds after each statement.
            try await connection.execute(
                "UPDATE team_members SET role = 'admin' WHERE team_id = \(teamID) AND role = 'owner'", logger: self.logger)
            try await connection.execute(
                "UPDATE team_members SET role = 'owner' WHERE team_id = \(teamID) AND user_id = \(toUserID)", logger: self.logger)
            return true
        }
    }

    public func memberSpendRemaining(membershipID: Int64) async throws -> Credits? {
        try await first("SELECT spend_limit_micros - spent_micros AS remaining FROM team_members WHERE id = \(membershipID)")?
            .int("remaining").map(Credits.init(micros:))
    }

    // MARK: Invitations

    public func createTeamInvitation(_ invitation: NewTeamInvitation) async throws -> TeamInvitationRecord {
        try await transaction { connection in
            // Under the team's lock, two invitations to one address at once leave one pending.
            try await self.lockTeam(connection, id: invitation.teamID)
            try await connection.execute(
                """
                DELETE FROM team_invitations
                WHERE team_id = \(invitation.teamID) AND lower(email) = lower(\(invitation.email)) AND accepted_at IS NULL
                """, logger: self.logger)
            return try TeamInvitationRecord(
                row: try await connection.inserted(
                    """
                    INSERT INTO team_invitations (team_id, email, role, token_hash, invited_by, created_at, expires_at)
                    VALUES (\(invitation.teamID), \(invitation.email), \(invitation.role.rawValue), \(invitation.tokenHash),
                        \(invitation.invitedBy), \(invitation.createdAt.unixMillis), \(invitation.expiresAt.unixMillis))
                    RETURNING *
                    """, logger: self.logger))
        }
    }

    public func teamInvitations(teamID: Int64, now: Date) async throws -> [TeamInvitationRecord] {
        try await all(
            """
            SELECT * FROM team_invitations WHERE team_id = \(teamID) AND accepted_at IS NULL AND expires_at > \(now.unixMillis)
            ORDER BY created_at DESC, id DESC
            """
        ).map(TeamInvitationRecord.init(row:))
    }

    public func revokeTeamInvitation(teamID: Int64, id: Int64) async throws -> Bool {
        try await first("DELETE FROM team_invitations WHERE id = \(id) AND team_id = \(teamID) AND accepted_at IS NULL RETURNING id") != nil
    }

    public func acceptTeamInvitation(tokenHash: String, userID: Int64, email: String, at: Date) async throws -> TeamInvitationAcceptance {
        try await transaction { connection in
            // The lock makes a second use wait for the first, then see it accepted.
            guard
                let row = try await connection.first(
                    "SELECT * FROM team_invitations WHERE token_hash = \(tokenHash) FOR UPDATE", logger: self.logger)
            else { return .invalid }
            let invitation = try TeamInvitationRecord(row: row)
            guard invitation.acceptedAt == nil, invitation.expiresAt > at else { return .invalid }
            guard TeamSQL.sameAddress(invitation.email, email) else { return .wrongAddress }
            try await connection.execute(
                "UPDATE team_invitations SET accepted_at = \(at.unixMillis) WHERE id = \(invitation.id)", logger: self.logger)
            guard
                let member = try await self.addTeamMember(connection, teamID: invitation.teamID, userID: userID, role: invitation.role, at: at)
            else { return .alreadyMember(teamID: invitation.teamID) }
            return .accepted(member)
        }
    }

    // MARK: Keys and usage

    public func createTeamAPIKey(
        walletUserID: Int64, membershipID: Int64, name: String, keyHash: String, prefix: String, limits: APIKeyLimits
    ) async throws -> Int64 {
        try await insertAPIKey(userID: walletUserID, teamMemberID: membershipID, name: name, keyHash: keyHash, prefix: prefix, limits: limits)
    }

    public func teamUsageByMember(teamID: Int64) async throws -> [TeamMemberUsage] {
        var binds = PostgresBindings()
        binds.append(teamID, context: .default)
        return try await all(PostgresQuery(unsafeSQL: TeamSQL.usageByMember(team: "$1"), binds: binds)).map(TeamMemberUsage.init(row:))
    }

    // MARK: Helpers

    func team(_ runner: some PostgresQueryRunner, id: Int64) async throws -> TeamRecord? {
        try await runner.first("\(unescaped: TeamSQL.team) WHERE t.id = \(id)", logger: logger).map { try TeamRecord(row: $0) }
    }

    func teamMember(_ runner: some PostgresQueryRunner, teamID: Int64, userID: Int64) async throws -> TeamMemberRecord? {
        try await runner.first("\(unescaped: TeamSQL.member) WHERE m.team_id = \(teamID) AND m.user_id = \(userID)", logger: logger)
            .map(TeamMemberRecord.init(row:))
    }

    /// Nil when the user is a member already.
    func addTeamMember(
        _ runner: some PostgresQueryRunner, teamID: Int64, userID: Int64, role: TeamRole, at: Date
    ) async throws -> TeamMemberRecord? {
        try await runner.first(
            """
            WITH m AS (
                INSERT INTO team_members (team_id, user_id, role, created_at) VALUES (\(teamID), \(userID), \(role.rawValue), \(at.unixMillis))
                ON CONFLICT (team_id, user_id) DO NOTHING RETURNING *)
            SELECT m.*, u.email FROM m JOIN users u ON u.id = m.user_id
            """, logger: logger
        ).map(TeamMemberRecord.init(row:))
    }

    /// Takes the team's row lock until the transaction ends.
    private func lockTeam(_ connection: PostgresConnection, id: Int64) async throws {
        try await connection.execute("SELECT id FROM teams WHERE id = \(id) FOR UPDATE", logger: logger)
    }
}
