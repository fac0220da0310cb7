import Foundation
import GRDB
import SluiceCore

/// Teams on SQLite. Writes are serialized, so a read inside a write transaction stays true until
/// it commits: the checks below need no locks.
extension SQLiteStore {
    // MARK: Teams

    public func createTeam(name: String, ownerUserID: Int64, at: Date) async throws -> TeamRecord {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO users (email, role, plan, balance_micros, status, kind, created_at)
                    VALUES (?, 'user', 'free', 0, 'active', 'team', ?)
                    """, arguments: [TeamSQL.walletEmail(), at.unixMillis])
            let wallet = db.lastInsertedRowID
            try db.execute(sql: "INSERT INTO teams (name, wallet_user_id, created_at) VALUES (?, ?, ?)", arguments: [name, wallet, at.unixMillis])
            let teamID = db.lastInsertedRowID
            try db.execute(
                sql: "INSERT INTO team_members (team_id, user_id, role, created_at) VALUES (?, ?, 'owner', ?)",
                arguments: [teamID, ownerUserID, at.unixMillis])
            guard let team = try Self.team(db, id: teamID) else { throw StoreDecodingError(column: "id") }
            return team
        }
    }

    public func team(id: Int64) async throws -> TeamRecord? {
        try await pool.read { db in try Self.team(db, id: id) }
    }

    public func teams(page: PageRequest) async throws -> [TeamRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: TeamSQL.team + " WHERE (? IS NULL OR t.id < ?) ORDER BY t.id DESC LIMIT ? OFFSET ?",
                arguments: [page.beforeID, page.beforeID, page.limit, page.offset]
            ).map { try TeamRecord(row: $0) }
        }
    }

    public func teams(memberUserID: Int64) async throws -> [TeamMembership] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: TeamSQL.membership + " WHERE m.user_id = ? ORDER BY m.created_at, m.id", arguments: [memberUserID])
                .map(TeamMembership.init(row:))
        }
    }

    public func renameTeam(id: Int64, name: String) async throws -> TeamRecord? {
        try await pool.write { db in
            try db.execute(sql: "UPDATE teams SET name = ? WHERE id = ?", arguments: [name, id])
            return try Self.team(db, id: id)
        }
    }

    // MARK: Members

    public func teamMembers(teamID: Int64) async throws -> [TeamMemberRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: TeamSQL.member + " WHERE m.team_id = ?" + TeamSQL.memberOrder, arguments: [teamID])
                .map(TeamMemberRecord.init(row:))
        }
    }

    public func teamMember(teamID: Int64, userID: Int64) async throws -> TeamMemberRecord? {
        try await pool.read { db in try Self.teamMember(db, teamID: teamID, userID: userID) }
    }

    public func addTeamMember(teamID: Int64, userID: Int64, role: TeamRole, at: Date) async throws -> TeamMemberRecord? {
        try await pool.write { db in try Self.addTeamMember(db, teamID: teamID, userID: userID, role: role, at: at) }
    }

    public func updateTeamMember(teamID: Int64, userID: Int64, role: TeamRole?, spendLimit: Credits??) async throws -> TeamMemberRecord? {
        // The owner's role stays, and no one is made owner here: that is a transfer.
        let newRole = role == .owner ? nil : role?.rawValue
        let setsLimit = spendLimit != nil
        let limit = spendLimit.flatMap { $0 }?.micros
        return try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE team_members SET role = CASE WHEN role = 'owner' THEN role ELSE coalesce(?, role) END,
                        spend_limit_micros = CASE WHEN ? THEN ? ELSE spend_limit_micros END
                    WHERE team_id = ? AND user_id = ?
                    """, arguments: [newRole, setsLimit, limit, teamID, userID])
            return try Self.teamMember(db, teamID: teamID, userID: userID)
        }
    }

    public func removeTeamMember(teamID: Int64, userID: Int64, at: Date) async throws -> [String]? {
        try await pool.write { db in
            // The owner stays: a team has exactly one, and ownership moves by transfer.
            guard
                let member = try Row.fetchOne(
                    db, sql: "SELECT id, role FROM team_members WHERE team_id = ? AND user_id = ?", arguments: [teamID, userID]),
                try member.text(required: "role") != TeamRole.owner.rawValue
            else { return nil }
            let membershipID = try member.int(required: "id")
            let revoked = try Row.fetchAll(
                db,
                sql: """
                    UPDATE api_keys SET revoked_at = ? WHERE team_member_id = ? AND revoked_at IS NULL
                    RETURNING id, key_hash, user_id, prefix
                    """, arguments: [at.unixMillis, membershipID])
            if webhookFilter.wants(.keyRevoked) {
                for key in revoked {
                    let payload = WebhookPayload.Key(userId: try key.int(required: "user_id"), keyId: try key.int(required: "id"), prefix: try key.text(required: "prefix"))
                    try Self.outbox(db, userID: payload.userId, type: .keyRevoked, payload: try WebhookPayload.text(payload))
                }
            }
            try db.execute(sql: "DELETE FROM team_members WHERE id = ?", arguments: [membershipID])
            return try revoked.map { try $0.text(required: "key_hash") }
        }
    }

    public func transferTeamOwnership(teamID: Int64, toUserID: Int64) async throws -> Bool {
        try await pool.write { db in
            guard
                let role = try String.fetchOne(
                    db, sql: "SELECT role FROM team_members WHERE team_id = ? AND user_id = ?", arguments: [teamID, toUserID])
            else { return false }
            guard role != TeamRole.owner.rawValue else { return true }
            // In this order: the index that allows one owner per team holds after each statement.
            try db.execute(sql: "UPDATE team_members SET role = 'admin' WHERE team_id = ? AND role = 'owner'", arguments: [teamID])
            try db.execute(sql: "UPDATE team_members SET role = 'owner' WHERE team_id = ? AND user_id = ?", arguments: [teamID, toUserID])
            return true
        }
    }

    public func memberSpendRemaining(membershipID: Int64) async throws -> Credits? {
        try await pool.read { db in
            try Int64?.fetchOne(db, sql: "SELECT spend_limit_micros - spent_micros FROM team_members WHERE id = ?", arguments: [membershipID])
                .flatMap { $0 }.map(Credits.init(micros:))
        }
    }

    // MARK: Invitations

    public func createTeamInvitation(_ invitation: NewTeamInvitation) async throws -> TeamInvitationRecord {
        try await pool.write { db in
            try db.execute(
                sql: "DELETE FROM team_invitations WHERE team_id = ? AND email = ? COLLATE NOCASE AND accepted_at IS NULL",
                arguments: [invitation.teamID, invitation.email])
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        INSERT INTO team_invitations (team_id, email, role, token_hash, invited_by, created_at, expires_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *
                        """,
                    arguments: [
                        invitation.teamID, invitation.email, invitation.role.rawValue, invitation.tokenHash, invitation.invitedBy,
                        invitation.createdAt.unixMillis, invitation.expiresAt.unixMillis,
                    ])
            else { throw StoreDecodingError(column: "id") }
            return try TeamInvitationRecord(row: row)
        }
    }

    public func teamInvitations(teamID: Int64, now: Date) async throws -> [TeamInvitationRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM team_invitations WHERE team_id = ? AND accepted_at IS NULL AND expires_at > ?
                    ORDER BY created_at DESC, id DESC
                    """, arguments: [teamID, now.unixMillis]
            ).map(TeamInvitationRecord.init(row:))
        }
    }

    public func revokeTeamInvitation(teamID: Int64, id: Int64) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM team_invitations WHERE id = ? AND team_id = ? AND accepted_at IS NULL", arguments: [id, teamID])
            return db.changesCount > 0
        }
    }

    public func acceptTeamInvitation(tokenHash: String, userID: Int64, email: String, at: Date) async throws -> TeamInvitationAcceptance {
        try await pool.write { db in
            guard
                let row = try Row.fetchOne(db, sql: "SELECT * FROM team_invitations WHERE token_hash = ?", arguments: [tokenHash])
            else { return .invalid }
            let invitation = try TeamInvitationRecord(row: row)
            guard invitation.acceptedAt == nil, invitation.expiresAt > at else { return .invalid }
            guard TeamSQL.sameAddress(invitation.email, email) else { return .wrongAddress }
            try db.execute(sql: "UPDATE team_invitations SET accepted_at = ? WHERE id = ?", arguments: [at.unixMillis, invitation.id])
            guard let member = try Self.addTeamMember(db, teamID: invitation.teamID, userID: userID, role: invitation.role, at: at)
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
        try await pool.read { db in
            try Row.fetchAll(db, sql: TeamSQL.usageByMember(team: "?"), arguments: [teamID, teamID]).map(TeamMemberUsage.init(row:))
        }
    }

    // MARK: Helpers

    static func team(_ db: Database, id: Int64) throws -> TeamRecord? {
        try Row.fetchOne(db, sql: TeamSQL.team + " WHERE t.id = ?", arguments: [id]).map { try TeamRecord(row: $0) }
    }

    static func teamMember(_ db: Database, teamID: Int64, userID: Int64) throws -> TeamMemberRecord? {
        try Row.fetchOne(db, sql: TeamSQL.member + " WHERE m.team_id = ? AND m.user_id = ?", arguments: [teamID, userID])
            .map(TeamMemberRecord.init(row:))
    }

    /// Nil when the user is a member already.
    static func addTeamMember(_ db: Database, teamID: Int64, userID: Int64, role: TeamRole, at: Date) throws -> TeamMemberRecord? {
        try db.execute(
            sql: "INSERT INTO team_members (team_id, user_id, role, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (team_id, user_id) DO NOTHING",
            arguments: [teamID, userID, role.rawValue, at.unixMillis])
        guard db.changesCount > 0 else { return nil }
        return try teamMember(db, teamID: teamID, userID: userID)
    }
}
