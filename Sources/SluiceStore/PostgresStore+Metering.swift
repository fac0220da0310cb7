import Foundation
import PostgresNIO
import SluiceCore

extension PostgresStore {
    public func createServiceAccount(name: String, createdBy: Int64?) async throws -> ServiceAccountRecord {
        do {
            return try ServiceAccountRecord(row: try await inserted(
                """
                INSERT INTO service_accounts (name, created_by, created_at) VALUES (\(name), \(createdBy)::bigint, \(Date().unixMillis))
                RETURNING *
                """))
        } catch where isUniqueViolation(error) {
            throw StoreConflict(field: "name")
        }
    }

    public func serviceAccounts() async throws -> [ServiceAccountRecord] {
        try await all("SELECT * FROM service_accounts ORDER BY id").map(ServiceAccountRecord.init(row:))
    }

    public func serviceAccount(id: Int64) async throws -> ServiceAccountRecord? {
        try await first("SELECT * FROM service_accounts WHERE id = \(id)").map(ServiceAccountRecord.init(row:))
    }

    public func createServiceToken(_ token: NewServiceToken) async throws -> Int64 {
        let scopes = try MeteringQueries.scopesJSON(token.scopes)
        return try await inserted(
            """
            INSERT INTO service_tokens (service_account_id, name, token_hash, prefix, scopes, expires_at, created_at)
            VALUES (\(token.serviceAccountID), \(token.name), \(token.tokenHash), \(token.prefix), \(scopes), \(token.expiresAt?.unixMillis)::bigint,
                \(Date().unixMillis))
            RETURNING id
            """
        ).int(required: "id")
    }

    public func serviceTokens(serviceAccountID: Int64) async throws -> [ServiceTokenRecord] {
        try await all("SELECT * FROM service_tokens WHERE service_account_id = \(serviceAccountID) ORDER BY id").map(ServiceTokenRecord.init(row:))
    }

    public func serviceToken(hash: String) async throws -> ServiceTokenRecord? {
        try await first("SELECT * FROM service_tokens WHERE token_hash = \(hash)").map(ServiceTokenRecord.init(row:))
    }

    public func revokeServiceToken(id: Int64, now: Date) async throws -> Bool {
        try await first("UPDATE service_tokens SET revoked_at = \(now.unixMillis) WHERE id = \(id) AND revoked_at IS NULL RETURNING id") != nil
    }

    public func touchServiceToken(id: Int64, at: Date) async throws {
        try await execute("UPDATE service_tokens SET last_used_at = \(at.unixMillis) WHERE id = \(id)")
    }

    public func user(externalID: String) async throws -> UserRecord? {
        try await first("SELECT * FROM users WHERE external_id = \(externalID)").map(UserRecord.init(row:))
    }

    public func ensureUser(externalID: String, email: String, name: String?) async throws -> (user: UserRecord, created: Bool) {
        if let known = try await user(externalID: externalID) { return (known, false) }
        do {
            let row = try await inserted(
                """
                INSERT INTO users (email, role, plan, balance_micros, created_at, external_id, name)
                VALUES (\(email), 'user', 'free', 0, \(Date().unixMillis), \(externalID), \(name)::text)
                RETURNING *
                """)
            return (try UserRecord(row: row), true)
        } catch where isUniqueViolation(error) {
            // Another call made this user first, or the email belongs to someone else.
            if let known = try await user(externalID: externalID) { return (known, false) }
            throw StoreConflict(field: "email")
        }
    }

    public func recordUsageEvents(_ events: [NewUsageEvent]) async throws -> [(event: UsageEventRecord, created: Bool)] {
        try await transaction { connection in
            var results: [(event: UsageEventRecord, created: Bool)] = []
            let now = Date().unixMillis
            for event in events {
                let inserted = try await connection.first(
                    """
                    INSERT INTO usage_events (user_id, service_account_id, request_id, event_type, endpoint, model_name, provider,
                        prompt_tokens, completion_tokens, tokens_used, credits_charged_micros, calculation_method, session_id, trace_id,
                        metadata, created_at)
                    VALUES (\(event.userID), \(event.serviceAccountID), \(event.requestID), \(event.eventType), \(event.endpoint)::text,
                        \(event.modelName)::text, \(event.provider)::text, \(event.promptTokens), \(event.completionTokens), \(event.tokensUsed),
                        \(event.creditsCharged.micros), \(event.calculationMethod), \(event.sessionID)::text, \(event.traceID)::text,
                        \(event.metadata)::text, \(now))
                    ON CONFLICT (service_account_id, request_id) DO NOTHING
                    RETURNING *
                    """, logger: self.logger)
                if let inserted {
                    results.append((try UsageEventRecord(row: inserted), true))
                    continue
                }
                guard let first = try await connection.first(
                    "SELECT * FROM usage_events WHERE service_account_id = \(event.serviceAccountID) AND request_id = \(event.requestID)",
                    logger: self.logger)
                else { throw StoreDecodingError(column: "request_id") }
                results.append((try UsageEventRecord(row: first), false))
            }
            return results
        }
    }

    public func usageEvent(id: Int64) async throws -> UsageEventRecord? {
        try await first("SELECT * FROM usage_events WHERE id = \(id)").map(UsageEventRecord.init(row:))
    }

    public func usageEvents(_ query: UsageEventQuery) async throws -> [UsageEventRecord] {
        var sql = PostgresQueryBuilder("SELECT * FROM usage_events WHERE user_id = ")
        sql.bind(query.userID)
        Self.usageEventFilters(query, into: &sql)
        sql.page(query.page)
        return try await all(sql.query).map(UsageEventRecord.init(row:))
    }

    public func usageEventStats(_ query: UsageEventQuery) async throws -> UsageEventStats {
        var sql = PostgresQueryBuilder(MeteringQueries.statsSelect + " ")
        sql.bind(query.userID)
        Self.usageEventFilters(query, into: &sql)
        sql.append(MeteringQueries.statsGroup)
        return try UsageEventStats(groups: try await all(sql.query))
    }

    private static func usageEventFilters(_ query: UsageEventQuery, into sql: inout PostgresQueryBuilder) {
        sql.filter("event_type", query.eventType)
        sql.filter("model_name", query.modelName)
        sql.timeRange(from: query.from, to: query.to)
    }
}
