import Foundation
import PostgresNIO
import SluiceCore

extension PostgresStore {
    // MARK: Users

    public func createUser(_ user: NewUser) async throws -> Int64 {
        do {
            return try await transaction { connection in
                let now = Date().unixMillis
                // A taken email (in any case) breaks the unique index on lower(email).
                let id = try await connection.inserted(
                    """
                    INSERT INTO users (email, password_hash, role, plan, balance_micros, created_at)
                    VALUES (\(user.email), \(user.passwordHash), \(user.role.rawValue), \(user.plan), 0, \(now)) RETURNING id
                    """, logger: logger).int(required: "id")
                if user.initialCredits.micros != 0 {
                    try await appendCredit(
                        connection, userID: id, amount: user.initialCredits, kind: .grant, referenceID: "signup-\(id)", note: "initial credits")
                }
                return id
            }
        } catch where isUniqueViolation(error) {
            throw StoreConflict(field: "email")
        }
    }

    public func user(id: Int64) async throws -> UserRecord? {
        try await first("SELECT * FROM users WHERE id = \(id)").map(UserRecord.init(row:))
    }

    public func user(email: String) async throws -> UserRecord? {
        try await first("SELECT * FROM users WHERE lower(email) = lower(\(email))").map(UserRecord.init(row:))
    }

    public func passwordHash(userID: Int64) async throws -> String? {
        try await first("SELECT password_hash FROM users WHERE id = \(userID)")?.text("password_hash")
    }

    public func setUserStatus(id: Int64, _ status: UserStatus) async throws {
        _ = try await updateUser(id: id, UserUpdate(status: status))
    }

    public func updateUser(id: Int64, _ update: UserUpdate) async throws -> UserRecord? {
        try await first(
            """
            UPDATE users SET status = coalesce(\(update.status?.rawValue)::text, status), role = coalesce(\(update.role?.rawValue)::text, role),
                trust_level = coalesce(\(update.trustLevel)::bigint, trust_level), plan = coalesce(\(update.plan)::text, plan),
                pool_preference = coalesce(\(update.poolPreference?.rawValue)::text, pool_preference),
                low_balance_micros = coalesce(\(update.lowBalanceThreshold?.micros)::bigint, low_balance_micros)
            WHERE id = \(id) RETURNING *
            """
        ).map(UserRecord.init(row:))
    }

    public func users(search: String?, page: PageRequest) async throws -> [UserRecord] {
        // Team wallets are accounts but not people: they are listed as teams.
        var query = PostgresQueryBuilder("SELECT * FROM users WHERE kind <> 'team'")
        if let search, !search.isEmpty {
            query.append(" AND strpos(lower(email), lower(")
            query.bind(search)
            query.append(")) > 0")
        }
        query.page(page)
        return try await all(query.query).map(UserRecord.init(row:))
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
        return try await transaction { connection in
            let id = try await connection.inserted(
                """
                INSERT INTO api_keys (user_id, name, key_hash, prefix, allowed_models, expires_at, rpm_limit, tpm_limit,
                    spend_limit_micros, ip_allowlist, record_conversations, created_at, team_member_id)
                VALUES (\(userID), \(name), \(keyHash), \(prefix), \(models)::text, \(limits.expiresAt?.unixMillis)::bigint,
                    \(limits.requestsPerMinute)::bigint, \(limits.tokensPerMinute)::bigint, \(limits.spendLimit?.micros)::bigint,
                    \(networks)::text, \(limits.recordConversations), \(Date().unixMillis), \(teamMemberID)::bigint)
                RETURNING id
                """, logger: self.logger
            ).int(required: "id")
            if self.webhookFilter.wants(.keyCreated) {
                try await self.outbox(
                    connection, userID: userID, type: .keyCreated,
                    payload: try WebhookPayload.text(WebhookPayload.Key(userId: userID, keyId: id, prefix: prefix)))
            }
            return id
        }
    }

    public func apiKey(hash: String) async throws -> APIKeyRecord? {
        try await first("\(unescaped: TeamSQL.apiKey) WHERE k.key_hash = \(hash)").map(APIKeyRecord.init(row:))
    }

    public func apiKeys(userID: Int64) async throws -> [APIKeyRecord] {
        try await all("\(unescaped: TeamSQL.apiKey) WHERE k.user_id = \(userID) AND k.revoked_at IS NULL ORDER BY k.id DESC")
            .map(APIKeyRecord.init(row:))
    }

    public func revokeAPIKey(id: Int64, userID: Int64?) async throws -> String? {
        try await transaction { connection in
            guard let row = try await connection.first(
                """
                UPDATE api_keys SET revoked_at = \(Date().unixMillis)
                WHERE id = \(id) AND (\(userID)::bigint IS NULL OR user_id = \(userID)::bigint) AND revoked_at IS NULL
                RETURNING key_hash, user_id, prefix
                """, logger: self.logger)
            else { return nil }
            if self.webhookFilter.wants(.keyRevoked) {
                let key = WebhookPayload.Key(userId: try row.int(required: "user_id"), keyId: id, prefix: try row.text(required: "prefix"))
                try await self.outbox(connection, userID: key.userId, type: .keyRevoked, payload: try WebhookPayload.text(key))
            }
            return try row.text(required: "key_hash")
        }
    }

    public func keySpendRemaining(keyID: Int64) async throws -> Credits? {
        try await first("SELECT spend_limit_micros - spent_micros AS remaining FROM api_keys WHERE id = \(keyID)")?
            .int("remaining").map(Credits.init(micros:))
    }
}
