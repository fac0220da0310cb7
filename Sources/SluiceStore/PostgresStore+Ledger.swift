import Foundation
import PostgresNIO
import SluiceCore

extension PostgresStore {
    public func balance(userID: Int64) async throws -> Credits? {
        try await first("SELECT balance_micros FROM users WHERE id = \(userID)")?.int("balance_micros").map(Credits.init(micros:))
    }

    public func credit(userID: Int64, amount: Credits, kind: LedgerKind, referenceID: String, note: String?) async throws -> LedgerEntry {
        do {
            return try await transaction { connection in
                if let existing = try await ledgerEntry(connection, referenceID: referenceID) { return existing }
                return try await appendCredit(connection, userID: userID, amount: amount, kind: kind, referenceID: referenceID, note: note)
            }
        } catch where isUniqueViolation(error) {
            // Another instance wrote this reference between the read and the write: its entry stands.
            guard let existing = try await ledgerEntry(client, referenceID: referenceID) else { throw error }
            return existing
        }
    }

    public func ledgerEntry(referenceID: String) async throws -> LedgerEntry? {
        try await ledgerEntry(client, referenceID: referenceID)
    }

    /// The batch goes in a few statements whatever its size: the usage rows in one multi-row
    /// insert, one balance update per user, the ledger entries in one insert, one update per key.
    /// Row by row it took three round trips per request.
    public func recordSettlements(_ records: [UsageRecord]) async throws -> [PersistedCharge] {
        try await transaction { connection in
            var written: [UsageRecord] = []
            for chunk in records.slices(of: Self.rowsPerInsert) {
                let rows = try await connection.all(Self.insertUsageRows(chunk), logger: logger)
                var inserted = Set(try rows.map { try $0.text(required: "request_id") })
                // A request id seen before was settled before: charge nothing again. Within one
                // statement a repeated id is inserted once, for its first occurrence.
                written += chunk.filter { inserted.remove($0.requestID) != nil }
            }
            let checkpointed = records.filter(\.checkpointed).map(\.requestID)
            if !checkpointed.isEmpty {
                try await connection.execute("DELETE FROM requests_in_flight WHERE request_id = ANY(\(checkpointed))", logger: logger)
            }
            let batch = SettlementBatch(written: written)
            var lines: [SettlementBatch.LedgerLine] = []
            for user in batch.users {
                guard let after = try await connection.first(
                    "UPDATE users SET balance_micros = balance_micros - \(user.total.micros) WHERE id = \(user.userID) RETURNING balance_micros",
                    logger: logger)?.int("balance_micros")
                else { throw StoreMissingRow(table: "users", id: user.userID) }
                if webhookFilter.wants(.creditConsumed) || webhookFilter.wants(.balanceLow) {
                    try await outbox(connection, userID: user.userID, type: .creditConsumed, payload: try WebhookPayload.consumed(user, balanceAfter: after))
                }
                lines += user.ledgerLines(balanceAfterBatch: after)
            }
            let now = Date().unixMillis
            for chunk in lines.slices(of: Self.rowsPerInsert) {
                try await connection.execute(Self.insertConsumeEntries(chunk, at: now), logger: logger)
            }
            // As on SQLite: each charge reports its key's allowance after the whole batch. Keys
            // in ascending order, as users: concurrent batches then lock key rows in one order.
            var remaining: [Int64: Int64] = [:]
            var keyMember: [Int64: Int64] = [:]
            for (keyID, use) in batch.keyUse.sorted(by: { $0.key < $1.key }) {
                let row = try await connection.first(
                    """
                    UPDATE api_keys SET spent_micros = spent_micros + \(use.spent),
                        last_used_at = greatest(coalesce(last_used_at, 0), \(use.lastUsed))
                    WHERE id = \(keyID) RETURNING spend_limit_micros - spent_micros AS remaining, team_member_id
                    """, logger: logger)
                remaining[keyID] = try row?.int("remaining")
                keyMember[keyID] = try row?.int("team_member_id")
            }
            // A team key's spend counts against its member's limit too: one update per member
            // with spend in the batch, none for other keys. A membership that has ended since
            // matches no row, and a member without a limit reports no allowance.
            var memberRemaining: [Int64: Int64] = [:]
            for (membershipID, spent) in SettlementBatch.memberSpend(keyMember: keyMember, keyUse: batch.keyUse) {
                memberRemaining[membershipID] = try await connection.first(
                    """
                    UPDATE team_members SET spent_micros = spent_micros + \(spent) WHERE id = \(membershipID)
                    RETURNING spend_limit_micros - spent_micros AS remaining
                    """, logger: logger)?.int("remaining")
            }
            return SettlementBatch.persisted(lines, keySpendRemaining: remaining, keyMember: keyMember, memberSpendRemaining: memberRemaining)
        }
    }

    /// Rows per multi-row insert: 21 parameters each stays far below PostgreSQL's 65,535.
    static let rowsPerInsert = 1_000

    static func insertUsageRows(_ records: some Collection<UsageRecord>) -> PostgresQuery {
        var sql = PostgresQuery.StringInterpolation(literalCapacity: 300 + 120 * records.count, interpolationCount: 21 * records.count)
        sql.appendLiteral("""
            INSERT INTO usage_logs (request_id, user_id, api_key_id, model, served_model, client_protocol, upstream_protocol,
                provider, account_id, prompt_tokens,
                completion_tokens, cached_tokens, cache_write_tokens, cost_micros, cost_estimated, latency_ms, ttft_ms, status,
                end_reason, stream, created_at) VALUES
            """)
        for (index, record) in records.enumerated() {
            sql.appendLiteral(index == 0 ? " (" : ", (")
            sql.appendInterpolation(record.requestID)
            sql.appendLiteral(", ")
            sql.appendInterpolation(record.userID)
            sql.appendLiteral(", ")
            sql.appendInterpolation(record.apiKeyID)
            sql.appendLiteral(", ")
            sql.appendInterpolation(record.model)
            sql.appendLiteral(", ")
            sql.appendInterpolation(record.servedModel)
            sql.appendLiteral("::text, ")
            sql.appendInterpolation(record.clientProtocol)
            sql.appendLiteral("::text, ")
            sql.appendInterpolation(record.upstreamProtocol)
            sql.appendLiteral("::text, ")
            sql.appendInterpolation(record.provider)
            sql.appendLiteral("::text, ")
            sql.appendInterpolation(record.accountID)
            sql.appendLiteral("::bigint, ")
            sql.appendInterpolation(record.usage.promptTokens)
            sql.appendLiteral(", ")
            sql.appendInterpolation(record.usage.completionTokens)
            sql.appendLiteral(", ")
            sql.appendInterpolation(record.usage.cachedPromptTokens)
            sql.appendLiteral(", ")
            sql.appendInterpolation(record.usage.cacheWriteTokens)
            sql.appendLiteral(", ")
            sql.appendInterpolation(record.charged.micros)
            sql.appendLiteral(", ")
            sql.appendInterpolation(record.costEstimated)
            sql.appendLiteral(", ")
            sql.appendInterpolation(record.latencyMs)
            sql.appendLiteral(", ")
            sql.appendInterpolation(record.ttftMs)
            sql.appendLiteral("::bigint, ")
            sql.appendInterpolation(record.status)
            sql.appendLiteral(", ")
            sql.appendInterpolation(record.endReason)
            sql.appendLiteral(", ")
            sql.appendInterpolation(record.stream)
            sql.appendLiteral(", ")
            sql.appendInterpolation(record.createdAt.unixMillis)
            sql.appendLiteral(")")
        }
        sql.appendLiteral(" ON CONFLICT (request_id) DO NOTHING RETURNING request_id")
        return PostgresQuery(stringInterpolation: sql)
    }

    static func insertConsumeEntries(_ lines: some Collection<SettlementBatch.LedgerLine>, at now: Int64) -> PostgresQuery {
        var sql = PostgresQuery.StringInterpolation(literalCapacity: 200 + 60 * lines.count, interpolationCount: 8 * lines.count)
        sql.appendLiteral("""
            INSERT INTO credit_ledger (user_id, kind, amount_micros, balance_before_micros, balance_after_micros,
                reference_id, note, created_at) VALUES
            """)
        for (index, line) in lines.enumerated() {
            sql.appendLiteral(index == 0 ? " (" : ", (")
            sql.appendInterpolation(line.record.userID)
            sql.appendLiteral(", ")
            sql.appendInterpolation(LedgerKind.consume.rawValue)
            sql.appendLiteral(", ")
            sql.appendInterpolation(-line.record.charged.micros)
            sql.appendLiteral(", ")
            sql.appendInterpolation(line.balanceBefore)
            sql.appendLiteral(", ")
            sql.appendInterpolation(line.balanceAfter)
            sql.appendLiteral(", ")
            sql.appendInterpolation(line.record.requestID)
            sql.appendLiteral(", ")
            sql.appendInterpolation(line.record.model)
            sql.appendLiteral("::text, ")
            sql.appendInterpolation(now)
            sql.appendLiteral(")")
        }
        return PostgresQuery(stringInterpolation: sql)
    }

    public func ledger(userID: Int64) async throws -> [LedgerEntry] {
        try await all("SELECT * FROM credit_ledger WHERE user_id = \(userID) ORDER BY id").map(LedgerEntry.init(row:))
    }

    public func usageLogs(userID: Int64) async throws -> [UsageRecord] {
        try await all("SELECT * FROM usage_logs WHERE user_id = \(userID) ORDER BY id").map(UsageRecord.init(row:))
    }

    /// Moves a balance and appends its ledger entry in the caller's transaction. The UPDATE locks
    /// the user's row until the transaction ends, so concurrent charges to one user queue up and
    /// every entry's before and after match the row.
    @discardableResult
    func appendCredit(
        _ connection: PostgresConnection, userID: Int64, amount: Credits, kind: LedgerKind, referenceID: String, note: String?
    ) async throws -> LedgerEntry {
        guard let after = try await connection.first(
            "UPDATE users SET balance_micros = balance_micros + \(amount.micros) WHERE id = \(userID) RETURNING balance_micros",
            logger: logger)?.int("balance_micros")
        else { throw StoreMissingRow(table: "users", id: userID) }
        let now = Date(unixMillis: Date().unixMillis)
        let entry = try LedgerEntry(row: try await connection.inserted(
            """
            INSERT INTO credit_ledger (user_id, kind, amount_micros, balance_before_micros, balance_after_micros,
                reference_id, note, created_at)
            VALUES (\(userID), \(kind.rawValue), \(amount.micros), \(after - amount.micros), \(after), \(referenceID), \(note)::text,
                \(now.unixMillis))
            RETURNING *
            """, logger: logger))
        if let (type, payload) = try WebhookPayload.forEntry(entry, filter: webhookFilter) {
            try await outbox(connection, userID: userID, type: type, payload: payload)
        }
        return entry
    }

    func ledgerEntry(_ runner: some PostgresQueryRunner, referenceID: String) async throws -> LedgerEntry? {
        try await runner.first("SELECT * FROM credit_ledger WHERE reference_id = \(referenceID)", logger: logger).map(LedgerEntry.init(row:))
    }
}

/// A write named a row that is not there (a credit to a user who does not exist).
public struct StoreMissingRow: Error, CustomStringConvertible {
    public var table: String
    public var id: Int64
    public var description: String { "no row \(id) in \(table)" }
}
