import Foundation
import GRDB
import SluiceCore

/// Upstream accounts: what the pool reads, and what owners and admins change.
extension SQLiteStore {
    public func addAccount(
        provider: String, kind: AccountKind, baseURL: String?, models: [String], priority: Int, weight: Int,
        ownerUserID: Int64?, sharing: AccountSharing, secret: SealedSecret, proxy: SealedSecret?
    ) async throws -> Int64 {
        let modelsJSON = try StoredJSON.text(models)
        return try await pool.write { db in
            let now = Date().unixMillis
            try db.execute(
                sql: """
                    INSERT INTO upstream_accounts (provider, kind, base_url, models, priority, weight, owner_user_id,
                        share_mode, reserve_percent, max_concurrency, secret_ciphertext, secret_key_version,
                        proxy_ciphertext, proxy_key_version, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [provider, kind.rawValue, baseURL, modelsJSON, priority, weight, ownerUserID,
                            sharing.shareMode.rawValue, sharing.reservePercent, sharing.maxConcurrency,
                            secret.ciphertext, secret.keyVersion, proxy?.ciphertext, proxy?.keyVersion, now, now])
            return db.lastInsertedRowID
        }
    }

    public func enabledAccounts() async throws -> [AccountRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM upstream_accounts WHERE enabled = 1 AND removed_at IS NULL ORDER BY id")
                .compactMap(AccountRecord.init(row:))
        }
    }

    public func accounts(ownerUserID: Int64?) async throws -> [AccountRecord] {
        try await pool.read { db in
            if let ownerUserID {
                return try Row.fetchAll(
                    db, sql: "SELECT * FROM upstream_accounts WHERE owner_user_id = ? AND removed_at IS NULL ORDER BY id",
                    arguments: [ownerUserID]
                ).compactMap(AccountRecord.init(row:))
            }
            return try Row.fetchAll(db, sql: "SELECT * FROM upstream_accounts WHERE removed_at IS NULL ORDER BY id").compactMap(AccountRecord.init(row:))
        }
    }

    public func account(id: Int64) async throws -> AccountRecord? {
        try await pool.read { db in try Self.account(db, id: id) }
    }

    public func updateAccount(id: Int64, _ update: AccountUpdate) async throws -> AccountRecord? {
        let modelsJSON = try update.models.map(StoredJSON.text)
        let proxy = update.proxyColumns
        return try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE upstream_accounts SET models = COALESCE(?, models), priority = COALESCE(?, priority),
                        weight = COALESCE(?, weight), enabled = COALESCE(?, enabled),
                        share_mode = COALESCE(?, share_mode), reserve_percent = COALESCE(?, reserve_percent),
                        max_concurrency = CASE WHEN ? THEN ? ELSE max_concurrency END,
                        proxy_ciphertext = CASE WHEN ? THEN ? ELSE proxy_ciphertext END,
                        proxy_key_version = CASE WHEN ? THEN ? ELSE proxy_key_version END, updated_at = ?
                    WHERE id = ? AND removed_at IS NULL
                    """,
                arguments: [modelsJSON, update.priority, update.weight, update.enabled,
                            update.sharing?.shareMode.rawValue, update.sharing?.reservePercent,
                            update.sharing != nil, update.sharing?.maxConcurrency,
                            proxy.changes, proxy.ciphertext, proxy.changes, proxy.keyVersion, Date().unixMillis, id])
            return try Self.account(db, id: id)
        }
    }

    public func removeAccount(id: Int64) async throws {
        try await pool.write { db in
            let now = Date().unixMillis
            try db.execute(
                sql: "UPDATE upstream_accounts SET enabled = 0, removed_at = ?, updated_at = ? WHERE id = ? AND removed_at IS NULL",
                arguments: [now, now, id])
            try db.execute(sql: "DELETE FROM account_cooldowns WHERE account_id = ?", arguments: [id])
        }
    }

    public func updateAccountSecret(id: Int64, _ secret: SealedSecret) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE upstream_accounts SET secret_ciphertext = ?, secret_key_version = ?, secret_generation = secret_generation + 1,
                        needs_reauth = 0, updated_at = ?
                    WHERE id = ?
                    """,
                arguments: [secret.ciphertext, secret.keyVersion, Date().unixMillis, id])
        }
    }

    public func rotateAccountSecret(id: Int64, _ change: @Sendable (StoredSecret) throws -> SealedSecret?) async throws -> StoredSecret? {
        try await pool.write { db in
            guard let record = try Self.account(db, id: id) else { return nil }
            let stored = StoredSecret(sealed: record.secret, generation: record.secretGeneration)
            guard let secret = try change(stored) else { return stored }
            try db.execute(
                sql: """
                    UPDATE upstream_accounts SET secret_ciphertext = ?, secret_key_version = ?, secret_generation = ?, updated_at = ?
                    WHERE id = ?
                    """,
                arguments: [secret.ciphertext, secret.keyVersion, stored.generation + 1, Date().unixMillis, id])
            return StoredSecret(sealed: secret, generation: stored.generation + 1)
        }
    }

    static func account(_ db: Database, id: Int64) throws -> AccountRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM upstream_accounts WHERE id = ? AND removed_at IS NULL", arguments: [id]).flatMap(AccountRecord.init(row:))
    }
}
