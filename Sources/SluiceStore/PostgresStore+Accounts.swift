import Foundation
import PostgresNIO
import SluiceCore

/// Upstream accounts, cooldowns and *needs re-auth*, as `SQLiteStore` keeps them.
extension PostgresStore {
    public func addAccount(
        provider: String, kind: AccountKind, baseURL: String?, models: [String], priority: Int, weight: Int,
        ownerUserID: Int64?, sharing: AccountSharing, secret: SealedSecret, proxy: SealedSecret?
    ) async throws -> Int64 {
        let modelsJSON = try StoredJSON.text(models)
        let now = Date().unixMillis
        return try await inserted(
            """
            INSERT INTO upstream_accounts (provider, kind, base_url, models, priority, weight, owner_user_id,
                share_mode, reserve_percent, max_concurrency, secret_ciphertext, secret_key_version,
                proxy_ciphertext, proxy_key_version, created_at, updated_at)
            VALUES (\(provider), \(kind.rawValue), \(baseURL)::text, \(modelsJSON), \(priority), \(weight), \(ownerUserID)::bigint,
                \(sharing.shareMode.rawValue), \(sharing.reservePercent), \(sharing.maxConcurrency)::bigint, \(secret.ciphertext),
                \(secret.keyVersion), \(proxy?.ciphertext)::bytea, \(proxy?.keyVersion)::bigint, \(now), \(now))
            RETURNING id
            """).int(required: "id")
    }

    public func enabledAccounts() async throws -> [AccountRecord] {
        try await all("SELECT * FROM upstream_accounts WHERE enabled AND removed_at IS NULL ORDER BY id").compactMap(AccountRecord.init(row:))
    }

    public func accounts(ownerUserID: Int64?) async throws -> [AccountRecord] {
        try await all(
            """
            SELECT * FROM upstream_accounts
            WHERE (\(ownerUserID)::bigint IS NULL OR owner_user_id = \(ownerUserID)::bigint) AND removed_at IS NULL ORDER BY id
            """
        ).compactMap(AccountRecord.init(row:))
    }

    public func account(id: Int64) async throws -> AccountRecord? {
        try await first("SELECT * FROM upstream_accounts WHERE id = \(id) AND removed_at IS NULL").flatMap(AccountRecord.init(row:))
    }

    public func updateAccount(id: Int64, _ update: AccountUpdate) async throws -> AccountRecord? {
        let modelsJSON = try update.models.map(StoredJSON.text)
        let proxy = update.proxyColumns
        return try await first(
            """
            UPDATE upstream_accounts SET models = coalesce(\(modelsJSON)::text, models), priority = coalesce(\(update.priority)::bigint, priority),
                weight = coalesce(\(update.weight)::bigint, weight), enabled = coalesce(\(update.enabled)::boolean, enabled),
                share_mode = coalesce(\(update.sharing?.shareMode.rawValue)::text, share_mode),
                reserve_percent = coalesce(\(update.sharing?.reservePercent)::bigint, reserve_percent),
                max_concurrency = CASE WHEN \(update.sharing != nil) THEN \(update.sharing?.maxConcurrency)::bigint ELSE max_concurrency END,
                proxy_ciphertext = CASE WHEN \(proxy.changes) THEN \(proxy.ciphertext)::bytea ELSE proxy_ciphertext END,
                proxy_key_version = CASE WHEN \(proxy.changes) THEN \(proxy.keyVersion)::bigint ELSE proxy_key_version END,
                updated_at = \(Date().unixMillis)
            WHERE id = \(id) AND removed_at IS NULL
            RETURNING *
            """
        ).flatMap(AccountRecord.init(row:))
    }

    public func removeAccount(id: Int64) async throws {
        try await transaction { connection in
            let now = Date().unixMillis
            try await connection.execute(
                "UPDATE upstream_accounts SET enabled = FALSE, removed_at = \(now), updated_at = \(now) WHERE id = \(id) AND removed_at IS NULL",
                logger: logger)
            try await connection.execute("DELETE FROM account_cooldowns WHERE account_id = \(id)", logger: logger)
        }
    }

    public func updateAccountSecret(id: Int64, _ secret: SealedSecret) async throws {
        try await execute(
            """
            UPDATE upstream_accounts SET secret_ciphertext = \(secret.ciphertext), secret_key_version = \(secret.keyVersion),
                secret_generation = secret_generation + 1, needs_reauth = FALSE, updated_at = \(Date().unixMillis)
            WHERE id = \(id)
            """)
    }

    public func rotateAccountSecret(id: Int64, _ change: @Sendable (StoredSecret) throws -> SealedSecret?) async throws -> StoredSecret? {
        try await transaction { connection in
            // FOR UPDATE: a rotation on another instance waits here until this one commits, then
            // derives its change from what this one wrote.
            guard let row = try await connection.first(
                "SELECT * FROM upstream_accounts WHERE id = \(id) AND removed_at IS NULL FOR UPDATE", logger: logger),
                let record = try AccountRecord(row: row)
            else { return nil }
            let stored = StoredSecret(sealed: record.secret, generation: record.secretGeneration)
            guard let secret = try change(stored) else { return stored }
            try await connection.execute(
                """
                UPDATE upstream_accounts SET secret_ciphertext = \(secret.ciphertext), secret_key_version = \(secret.keyVersion),
                    secret_generation = \(stored.generation + 1), updated_at = \(Date().unixMillis)
                WHERE id = \(id)
                """, logger: logger)
            return StoredSecret(sealed: secret, generation: stored.generation + 1)
        }
    }

    public func markNeedsReauth(accountID: Int64) async throws {
        try await transaction { connection in
            try await connection.execute(
                "UPDATE upstream_accounts SET needs_reauth = TRUE, updated_at = \(Date().unixMillis) WHERE id = \(accountID)", logger: self.logger)
            try await self.outbox(
                connection, accountID: accountID, type: .accountNeedsReauth,
                payload: try WebhookPayload.text(WebhookPayload.Account(accountId: accountID, scope: nil, coolingUntil: nil, reason: nil)))
        }
    }

    public func saveCooldown(accountID: Int64, scope: CooldownScope, _ state: CooldownState) async throws {
        guard let until = state.coolingUntil, let reason = state.reason else { return try await deleteCooldown(accountID: accountID, scope: scope) }
        let save: PostgresQuery = """
            INSERT INTO account_cooldowns (account_id, model, cooling_until, reason, level, verify_at, last_failure_at)
            VALUES (\(accountID), \(scope.model ?? ""), \(until.unixMillis), \(reason.rawValue), \(state.level),
                \(state.verifyAt?.unixMillis)::bigint, \(state.lastFailureAt?.unixMillis)::bigint)
            ON CONFLICT (account_id, model) DO UPDATE SET cooling_until = excluded.cooling_until, reason = excluded.reason,
                level = excluded.level, verify_at = excluded.verify_at, last_failure_at = excluded.last_failure_at
            """
        // Cooldowns are frequent under load: a transaction only when the outbox wants the event.
        guard webhookFilter.wants(.accountCooling) else { return try await execute(save) }
        try await transaction { connection in
            try await connection.execute(save, logger: self.logger)
            try await self.outbox(
                connection, accountID: accountID, type: .accountCooling, payload: try WebhookPayload.cooling(accountID: accountID, scope: scope, state))
        }
    }

    public func deleteCooldown(accountID: Int64, scope: CooldownScope) async throws {
        try await execute("DELETE FROM account_cooldowns WHERE account_id = \(accountID) AND model = \(scope.model ?? "")")
    }

    public func liveCooldowns(now: Date) async throws -> [StoredCooldown] {
        // One statement, as SQLite's one transaction: the expired rows go, the live ones come back.
        try await all(
            """
            WITH expired AS (DELETE FROM account_cooldowns WHERE cooling_until <= \(now.unixMillis))
            SELECT * FROM account_cooldowns WHERE cooling_until > \(now.unixMillis) ORDER BY account_id, model
            """
        ).compactMap(StoredCooldown.init(row:))
    }
}
