import Foundation
import GRDB
import SluiceCore

extension SQLiteStore {
    // MARK: Users

    public func createUser(_ user: NewUser) async throws -> Int64 {
        try await pool.write { db in
            if try Int.fetchOne(db, sql: "SELECT 1 FROM users WHERE email = ? COLLATE NOCASE", arguments: [user.email]) != nil {
                throw StoreConflict(field: "email")
            }
            try db.execute(
                sql: """
                    INSERT INTO users (email, password_hash, role, plan, balance_micros, created_at) VALUES (?, ?, ?, ?, 0, ?)
                    """,
                arguments: [user.email, user.passwordHash, user.role.rawValue, user.plan, Date().unixMillis])
            let id = db.lastInsertedRowID
            if user.initialCredits.micros != 0 {
                try self.appendCredit(db, userID: id, amount: user.initialCredits, kind: .grant, referenceID: "signup-\(id)", note: "initial credits")
            }
            return id
        }
    }

    public func user(id: Int64) async throws -> UserRecord? {
        try await pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [id]).map(UserRecord.init(row:)) }
    }

    public func user(email: String) async throws -> UserRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM users WHERE email = ? COLLATE NOCASE", arguments: [email]).map(UserRecord.init(row:))
        }
    }

    public func passwordHash(userID: Int64) async throws -> String? {
        try await pool.read { db in try String.fetchOne(db, sql: "SELECT password_hash FROM users WHERE id = ?", arguments: [userID]) }
    }

    public func setUserStatus(id: Int64, _ status: UserStatus) async throws {
        _ = try await updateUser(id: id, UserUpdate(status: status))
    }

    public func updateUser(id: Int64, _ update: UserUpdate) async throws -> UserRecord? {
        try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE users SET status = coalesce(?, status), role = coalesce(?, role), trust_level = coalesce(?, trust_level),
                        plan = coalesce(?, plan), pool_preference = coalesce(?, pool_preference),
                        low_balance_micros = coalesce(?, low_balance_micros)
                    WHERE id = ?
                    """,
                arguments: [
                    update.status?.rawValue, update.role?.rawValue, update.trustLevel, update.plan, update.poolPreference?.rawValue,
                    update.lowBalanceThreshold?.micros, id,
                ])
            return try Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [id]).map(UserRecord.init(row:))
        }
    }

    public func users(search: String?, page: PageRequest) async throws -> [UserRecord] {
        try await pool.read { db in
            // Team wallets are accounts but not people: they are listed as teams.
            var sql = "SELECT * FROM users WHERE kind <> 'team'"
            var arguments: StatementArguments = []
            if let search, !search.isEmpty {
                sql += " AND instr(lower(email), lower(?)) > 0"
                _ = arguments.append(contentsOf: [search])
            }
            sql += Self.paging(page, arguments: &arguments)
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(UserRecord.init(row:))
        }
    }

    // MARK: API keys

    public func createAPIKey(userID: Int64, name: String, keyHash: String, prefix: String, limits: APIKeyLimits) async throws -> Int64 {
        try await insertAPIKey(userID: userID, teamMemberID: nil, name: name, keyHash: keyHash, prefix: prefix, limits: limits)
    }

    /// A key of `userID`'s; for a team key, `userID` is the wallet and `teamMemberID` the membership.
    func insertAPIKey(
        userID: Int64, teamMemberID: Int64?, name: String, keyHash: String, prefix: String, limits: APIKeyLimits
    ) async throws -> Int64 {
        let models = try limits.allowedModels.map(StoredJSON.text)
        let networks = try limits.ipAllowlist.map { try StoredJSON.text($0.map(\.description)) }
        return try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO api_keys (user_id, name, key_hash, prefix, allowed_models, expires_at, rpm_limit, tpm_limit,
                        spend_limit_micros, ip_allowlist, record_conversations, created_at, team_member_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    userID, name, keyHash, prefix, models, limits.expiresAt?.unixMillis, limits.requestsPerMinute,
                    limits.tokensPerMinute, limits.spendLimit?.micros, networks, limits.recordConversations, Date().unixMillis,
                    teamMemberID,
                ])
            let id = db.lastInsertedRowID
            if webhookFilter.wants(.keyCreated) {
                try Self.outbox(db, userID: userID, type: .keyCreated, payload: try WebhookPayload.text(WebhookPayload.Key(userId: userID, keyId: id, prefix: prefix)))
            }
            return id
        }
    }

    public func apiKey(hash: String) async throws -> APIKeyRecord? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: TeamSQL.apiKey + " WHERE k.key_hash = ?",
                arguments: [hash]
            ).map(APIKeyRecord.init(row:))
        }
    }

    public func apiKeys(userID: Int64) async throws -> [APIKeyRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: TeamSQL.apiKey + " WHERE k.user_id = ? AND k.revoked_at IS NULL ORDER BY k.id DESC",
                arguments: [userID]
            ).map(APIKeyRecord.init(row:))
        }
    }

    public func revokeAPIKey(id: Int64, userID: Int64?) async throws -> String? {
        try await pool.write { db in
            guard let row = try Row.fetchOne(
                db,
                sql: """
                    UPDATE api_keys SET revoked_at = ? WHERE id = ? AND (? IS NULL OR user_id = ?) AND revoked_at IS NULL
                    RETURNING key_hash, user_id, prefix
                    """,
                arguments: [Date().unixMillis, id, userID, userID])
            else { return nil }
            if webhookFilter.wants(.keyRevoked) {
                let key = WebhookPayload.Key(userId: try row.int(required: "user_id"), keyId: id, prefix: try row.text(required: "prefix"))
                try Self.outbox(db, userID: key.userId, type: .keyRevoked, payload: try WebhookPayload.text(key))
            }
            return try row.text(required: "key_hash")
        }
    }

}
