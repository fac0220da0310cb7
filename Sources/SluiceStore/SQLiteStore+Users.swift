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
                try Self.appendCredit(db, userID: id, amount: user.initialCredits, kind: .grant, referenceID: "signup-\(id)", note: "initial credits")
            }
            return id
        }
    }

    public func user(id: Int64) async throws -> UserRecord? {
        try await pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [id]).map(Self.user(row:)) }
    }

    public func user(email: String) async throws -> UserRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM users WHERE email = ? COLLATE NOCASE", arguments: [email]).map(Self.user(row:))
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
                        plan = coalesce(?, plan), pool_preference = coalesce(?, pool_preference)
                    WHERE id = ?
                    """,
                arguments: [update.status?.rawValue, update.role?.rawValue, update.trustLevel, update.plan, update.poolPreference?.rawValue, id])
            return try Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [id]).map(Self.user(row:))
        }
    }

    public func users(search: String?, page: PageRequest) async throws -> [UserRecord] {
        try await pool.read { db in
            var sql = "SELECT * FROM users WHERE 1"
            var arguments: StatementArguments = []
            if let search, !search.isEmpty {
                sql += " AND instr(lower(email), lower(?)) > 0"
                _ = arguments.append(contentsOf: [search])
            }
            sql += Self.paging(page, arguments: &arguments)
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(Self.user(row:))
        }
    }

    static func user(row: Row) -> UserRecord {
        UserRecord(
            id: row["id"], email: row["email"], status: UserStatus(rawValue: row["status"]) ?? .disabled,
            role: UserRole(rawValue: row["role"]) ?? .user, trustLevel: row["trust_level"], plan: row["plan"],
            poolPreference: PoolPreference(rawValue: row["pool_preference"]) ?? .dedicatedFirst,
            balance: Credits(micros: row["balance_micros"]), createdAt: Date(unixMillis: row["created_at"]))
    }

    // MARK: API keys

    public func createAPIKey(userID: Int64, name: String, keyHash: String, prefix: String, limits: APIKeyLimits) async throws -> Int64 {
        let models = try limits.allowedModels.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        let networks = try limits.ipAllowlist.map { String(decoding: try JSONEncoder().encode($0.map(\.description)), as: UTF8.self) }
        return try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO api_keys (user_id, name, key_hash, prefix, allowed_models, expires_at, rpm_limit, tpm_limit,
                        spend_limit_micros, ip_allowlist, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    userID, name, keyHash, prefix, models, limits.expiresAt?.unixMillis, limits.requestsPerMinute,
                    limits.tokensPerMinute, limits.spendLimit?.micros, networks, Date().unixMillis,
                ])
            return db.lastInsertedRowID
        }
    }

    public func apiKey(hash: String) async throws -> APIKeyRecord? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT k.*, u.status, u.pool_preference, u.plan, u.trust_level FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.key_hash = ?",
                arguments: [hash]
            ).map(Self.apiKey(row:))
        }
    }

    public func apiKeys(userID: Int64) async throws -> [APIKeyRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT k.*, u.status, u.pool_preference, u.plan, u.trust_level FROM api_keys k JOIN users u ON u.id = k.user_id
                    WHERE k.user_id = ? AND k.revoked_at IS NULL ORDER BY k.id DESC
                    """,
                arguments: [userID]
            ).map(Self.apiKey(row:))
        }
    }

    public func revokeAPIKey(id: Int64, userID: Int64?) async throws -> String? {
        try await pool.write { db in
            try String.fetchOne(
                db,
                sql: """
                    UPDATE api_keys SET revoked_at = ? WHERE id = ? AND (? IS NULL OR user_id = ?) AND revoked_at IS NULL
                    RETURNING key_hash
                    """,
                arguments: [Date().unixMillis, id, userID, userID])
        }
    }

    static func apiKey(row: Row) -> APIKeyRecord {
        let models: String? = row["allowed_models"]
        let networks: String? = row["ip_allowlist"]
        let limits = APIKeyLimits(
            allowedModels: models.flatMap { try? JSONDecoder().decode([String].self, from: Data($0.utf8)) },
            expiresAt: (row["expires_at"] as Int64?).map(Date.init(unixMillis:)),
            requestsPerMinute: row["rpm_limit"], tokensPerMinute: row["tpm_limit"],
            spendLimit: (row["spend_limit_micros"] as Int64?).map(Credits.init(micros:)),
            // A list that no longer parses allows nothing rather than everything.
            ipAllowlist: networks.map { text in
                ((try? JSONDecoder().decode([String].self, from: Data(text.utf8))) ?? []).compactMap(IPNetwork.init)
            })
        return APIKeyRecord(
            id: row["id"], userID: row["user_id"], name: row["name"], prefix: row["prefix"],
            revokedAt: (row["revoked_at"] as Int64?).map(Date.init(unixMillis:)),
            userStatus: UserStatus(rawValue: row["status"]) ?? .disabled,
            poolPreference: PoolPreference(rawValue: row["pool_preference"]) ?? .dedicatedFirst, plan: row["plan"],
            trustLevel: row["trust_level"], limits: limits,
            spent: Credits(micros: row["spent_micros"]), createdAt: Date(unixMillis: row["created_at"]),
            lastUsedAt: (row["last_used_at"] as Int64?).map(Date.init(unixMillis:)))
    }
}
