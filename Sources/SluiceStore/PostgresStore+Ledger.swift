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

    public func recordSettlements(_ records: [UsageRecord]) async throws -> [PersistedCharge] {
        try await transaction { connection in
            var charges: [PersistedCharge] = []
            var keyUse: [Int64: (spent: Int64, lastUsed: Int64)] = [:]
            for record in records {
                let inserted = try await connection.first(
                    """
                    INSERT INTO usage_logs (request_id, user_id, api_key_id, model, provider, account_id, prompt_tokens,
                        completion_tokens, cached_tokens, cost_micros, cost_estimated, latency_ms, ttft_ms, status,
                        end_reason, stream, created_at)
                    VALUES (\(record.requestID), \(record.userID), \(record.apiKeyID), \(record.model), \(record.provider)::text,
                        \(record.accountID)::bigint, \(record.usage.promptTokens), \(record.usage.completionTokens),
                        \(record.usage.cachedPromptTokens), \(record.charged.micros), \(record.costEstimated), \(record.latencyMs),
                        \(record.ttftMs)::bigint, \(record.status), \(record.endReason), \(record.stream), \(record.createdAt.unixMillis))
                    ON CONFLICT (request_id) DO NOTHING RETURNING id
                    """, logger: logger)
                // A request id seen before was settled before: charge nothing again.
                guard inserted != nil else { continue }
                let use = keyUse[record.apiKeyID] ?? (0, 0)
                keyUse[record.apiKeyID] = (use.spent + record.charged.micros, max(use.lastUsed, record.createdAt.unixMillis))
                guard record.charged.micros > 0 else { continue }
                let entry = try await appendCredit(
                    connection, userID: record.userID, amount: -record.charged, kind: .consume, referenceID: record.requestID,
                    note: record.model)
                charges.append(PersistedCharge(
                    userID: record.userID, apiKeyID: record.apiKeyID, charged: record.charged, balanceAfter: entry.balanceAfter,
                    keySpendRemaining: nil))
            }
            // As on SQLite: each charge reports its key's allowance after the whole batch.
            var remaining: [Int64: Int64] = [:]
            for (keyID, use) in keyUse {
                remaining[keyID] = try await connection.first(
                    """
                    UPDATE api_keys SET spent_micros = spent_micros + \(use.spent),
                        last_used_at = greatest(coalesce(last_used_at, 0), \(use.lastUsed))
                    WHERE id = \(keyID) RETURNING spend_limit_micros - spent_micros AS remaining
                    """, logger: logger)?.int("remaining")
            }
            for index in charges.indices { charges[index].keySpendRemaining = remaining[charges[index].apiKeyID].map(Credits.init(micros:)) }
            return charges
        }
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
        return try LedgerEntry(row: try await connection.inserted(
            """
            INSERT INTO credit_ledger (user_id, kind, amount_micros, balance_before_micros, balance_after_micros,
                reference_id, note, created_at)
            VALUES (\(userID), \(kind.rawValue), \(amount.micros), \(after - amount.micros), \(after), \(referenceID), \(note)::text,
                \(now.unixMillis))
            RETURNING *
            """, logger: logger))
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
