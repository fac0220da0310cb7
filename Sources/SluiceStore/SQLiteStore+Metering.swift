import Foundation
import GRDB
import SluiceCore

extension SQLiteStore {
    public func createServiceAccount(name: String, createdBy: Int64?) async throws -> ServiceAccountRecord {
        try await pool.write { db in
            if try Int.fetchOne(db, sql: "SELECT 1 FROM service_accounts WHERE name = ?", arguments: [name]) != nil {
                throw StoreConflict(field: "name")
            }
            let now = Date(unixMillis: Date().unixMillis)
            try db.execute(
                sql: "INSERT INTO service_accounts (name, created_by, created_at) VALUES (?, ?, ?)", arguments: [name, createdBy, now.unixMillis])
            return ServiceAccountRecord(id: db.lastInsertedRowID, name: name, createdAt: now)
        }
    }

    public func serviceAccounts() async throws -> [ServiceAccountRecord] {
        try await pool.read { db in try Row.fetchAll(db, sql: "SELECT * FROM service_accounts ORDER BY id").map(ServiceAccountRecord.init(row:)) }
    }

    public func serviceAccount(id: Int64) async throws -> ServiceAccountRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM service_accounts WHERE id = ?", arguments: [id]).map(ServiceAccountRecord.init(row:))
        }
    }

    public func createServiceToken(_ token: NewServiceToken) async throws -> Int64 {
        let scopes = try MeteringQueries.scopesJSON(token.scopes)
        return try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO service_tokens (service_account_id, name, token_hash, prefix, scopes, expires_at, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    token.serviceAccountID, token.name, token.tokenHash, token.prefix, scopes, token.expiresAt?.unixMillis, Date().unixMillis,
                ])
            return db.lastInsertedRowID
        }
    }

    public func serviceTokens(serviceAccountID: Int64) async throws -> [ServiceTokenRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM service_tokens WHERE service_account_id = ? ORDER BY id", arguments: [serviceAccountID])
                .map(ServiceTokenRecord.init(row:))
        }
    }

    public func serviceToken(hash: String) async throws -> ServiceTokenRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM service_tokens WHERE token_hash = ?", arguments: [hash]).map(ServiceTokenRecord.init(row:))
        }
    }

    public func revokeServiceToken(id: Int64, now: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "UPDATE service_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", arguments: [now.unixMillis, id])
            return db.changesCount == 1
        }
    }

    public func touchServiceToken(id: Int64, at: Date) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE service_tokens SET last_used_at = ? WHERE id = ?", arguments: [at.unixMillis, id])
        }
    }

    public func user(externalID: String) async throws -> UserRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM users WHERE external_id = ?", arguments: [externalID]).map(UserRecord.init(row:))
        }
    }

    public func ensureUser(externalID: String, email: String, name: String?) async throws -> (user: UserRecord, created: Bool) {
        try await pool.write { db in
            if let known = try Row.fetchOne(db, sql: "SELECT * FROM users WHERE external_id = ?", arguments: [externalID]) {
                return (try UserRecord(row: known), false)
            }
            if try Int.fetchOne(db, sql: "SELECT 1 FROM users WHERE email = ? COLLATE NOCASE", arguments: [email]) != nil {
                throw StoreConflict(field: "email")
            }
            try db.execute(
                sql: """
                    INSERT INTO users (email, role, plan, balance_micros, created_at, external_id, name) VALUES (?, 'user', 'free', 0, ?, ?, ?)
                    """,
                arguments: [email, Date().unixMillis, externalID, name])
            let row = try Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [db.lastInsertedRowID])
            guard let row else { throw StoreMissingRow(table: "users", id: db.lastInsertedRowID) }
            return (try UserRecord(row: row), true)
        }
    }

    public func recordUsageEvents(_ events: [NewUsageEvent]) async throws -> [(event: UsageEventRecord, created: Bool)] {
        try await pool.write { db in
            var results: [(event: UsageEventRecord, created: Bool)] = []
            let now = Date().unixMillis
            for event in events {
                try db.cachedStatement(
                    sql: """
                        INSERT INTO usage_events (user_id, service_account_id, request_id, event_type, endpoint, model_name, provider,
                            prompt_tokens, completion_tokens, tokens_used, credits_charged_micros, calculation_method, session_id, trace_id,
                            metadata, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (service_account_id, request_id) DO NOTHING
                        """
                ).execute(arguments: [
                    event.userID, event.serviceAccountID, event.requestID, event.eventType, event.endpoint, event.modelName, event.provider,
                    event.promptTokens, event.completionTokens, event.tokensUsed, event.creditsCharged.micros, event.calculationMethod,
                    event.sessionID, event.traceID, event.metadata, now,
                ])
                let created = db.changesCount == 1
                guard let row = try Row.fetchOne(
                    db, sql: "SELECT * FROM usage_events WHERE service_account_id = ? AND request_id = ?",
                    arguments: [event.serviceAccountID, event.requestID])
                else { throw StoreDecodingError(column: "request_id") }
                results.append((try UsageEventRecord(row: row), created))
            }
            return results
        }
    }

    public func usageEvent(id: Int64) async throws -> UsageEventRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM usage_events WHERE id = ?", arguments: [id]).map(UsageEventRecord.init(row:))
        }
    }

    public func usageEvents(_ query: UsageEventQuery) async throws -> [UsageEventRecord] {
        try await pool.read { db in
            var arguments: StatementArguments = [query.userID]
            var sql = "SELECT * FROM usage_events WHERE user_id = ?" + Self.usageEventFilters(query, arguments: &arguments)
            sql += Self.paging(query.page, arguments: &arguments)
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(UsageEventRecord.init(row:))
        }
    }

    public func usageEventStats(_ query: UsageEventQuery) async throws -> UsageEventStats {
        try await pool.read { db in
            var arguments: StatementArguments = [query.userID]
            let sql = MeteringQueries.statsSelect + " ?" + Self.usageEventFilters(query, arguments: &arguments) + MeteringQueries.statsGroup
            return try UsageEventStats(groups: try Row.fetchAll(db, sql: sql, arguments: arguments))
        }
    }

    private static func usageEventFilters(_ query: UsageEventQuery, arguments: inout StatementArguments) -> String {
        var sql = ""
        if let type = query.eventType {
            sql += " AND event_type = ?"
            _ = arguments.append(contentsOf: [type])
        }
        if let model = query.modelName {
            sql += " AND model_name = ?"
            _ = arguments.append(contentsOf: [model])
        }
        return sql + timeRange(from: query.from, to: query.to, arguments: &arguments)
    }
}
