import Foundation
import GRDB
import SluiceCore

extension SQLiteStore {
    public func balance(userID: Int64) async throws -> Credits? {
        try await pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT balance_micros FROM users WHERE id = ?", arguments: [userID]).map(Credits.init(micros:))
        }
    }

    public func credit(userID: Int64, amount: Credits, kind: LedgerKind, referenceID: String, note: String?) async throws -> LedgerEntry {
        try await pool.write { db in
            if let existing = try Self.ledgerEntry(db, referenceID: referenceID) { return existing }
            return try Self.appendCredit(db, userID: userID, amount: amount, kind: kind, referenceID: referenceID, note: note)
        }
    }

    public func recordSettlements(_ records: [UsageRecord]) async throws -> [PersistedCharge] {
        try await pool.write { db in
            var charges: [PersistedCharge] = []
            // Per key: what the batch spent and when it was last used, written once per key below.
            var keyUse: [Int64: (spent: Int64, lastUsed: Int64)] = [:]
            for record in records {
                // Cached statements: the writer runs these for every request, compiling them once.
                try db.cachedStatement(
                    sql: """
                        INSERT INTO usage_logs (request_id, user_id, api_key_id, model, provider, account_id, prompt_tokens,
                            completion_tokens, cached_tokens, cost_micros, cost_estimated, latency_ms, ttft_ms, status,
                            end_reason, stream, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (request_id) DO NOTHING
                        """
                ).execute(
                    arguments: [
                        record.requestID, record.userID, record.apiKeyID, record.model, record.provider, record.accountID,
                        record.usage.promptTokens, record.usage.completionTokens, record.usage.cachedPromptTokens,
                        record.charged.micros, record.costEstimated, record.latencyMs, record.ttftMs, record.status,
                        record.endReason, record.stream, record.createdAt.unixMillis,
                    ])
                // A request id seen before was settled before: charge nothing again.
                guard db.changesCount == 1 else { continue }
                let use = keyUse[record.apiKeyID] ?? (0, 0)
                keyUse[record.apiKeyID] = (use.spent + record.charged.micros, max(use.lastUsed, record.createdAt.unixMillis))
                guard record.charged.micros > 0 else { continue }
                let entry = try Self.appendCredit(
                    db, userID: record.userID, amount: -record.charged, kind: .consume, referenceID: record.requestID, note: record.model)
                charges.append(PersistedCharge(
                    userID: record.userID, apiKeyID: record.apiKeyID, charged: record.charged, balanceAfter: entry.balanceAfter,
                    keySpendRemaining: nil))
            }
            // Each charge reports its key's allowance after the whole batch: the credit book then
            // briefly sees less than is left, never more.
            var remaining: [Int64: Int64] = [:]
            for (keyID, use) in keyUse {
                remaining[keyID] = try Int64?.fetchOne(
                    db.cachedStatement(
                        sql: """
                            UPDATE api_keys SET spent_micros = spent_micros + ?, last_used_at = max(coalesce(last_used_at, 0), ?)
                            WHERE id = ? RETURNING spend_limit_micros - spent_micros
                            """),
                    arguments: [use.spent, use.lastUsed, keyID]) ?? nil
            }
            for index in charges.indices { charges[index].keySpendRemaining = remaining[charges[index].apiKeyID].map(Credits.init(micros:)) }
            return charges
        }
    }

    public func keySpendRemaining(keyID: Int64) async throws -> Credits? {
        try await pool.read { db in
            try Int64?.fetchOne(db, sql: "SELECT spend_limit_micros - spent_micros FROM api_keys WHERE id = ?", arguments: [keyID])
                .flatMap { $0 }.map(Credits.init(micros:))
        }
    }

    public func ledger(userID: Int64) async throws -> [LedgerEntry] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM credit_ledger WHERE user_id = ? ORDER BY id", arguments: [userID]).map(LedgerEntry.init(row:))
        }
    }

    public func usageLogs(userID: Int64) async throws -> [UsageRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM usage_logs WHERE user_id = ? ORDER BY id", arguments: [userID]).map(UsageRecord.init(row:))
        }
    }

    /// Moves a balance and appends its ledger entry in the caller's transaction. The balance before
    /// is read inside the transaction, so the entry always matches the row.
    @discardableResult
    static func appendCredit(
        _ db: Database, userID: Int64, amount: Credits, kind: LedgerKind, referenceID: String, note: String?
    ) throws -> LedgerEntry {
        guard let after = try Int64.fetchOne(
            db.cachedStatement(sql: "UPDATE users SET balance_micros = balance_micros + ? WHERE id = ? RETURNING balance_micros"),
            arguments: [amount.micros, userID])
        else { throw DatabaseError(resultCode: .SQLITE_CONSTRAINT, message: "no user \(userID)") }
        let now = Date(unixMillis: Date().unixMillis)
        try db.cachedStatement(
            sql: """
                INSERT INTO credit_ledger (user_id, kind, amount_micros, balance_before_micros, balance_after_micros,
                    reference_id, note, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [userID, kind.rawValue, amount.micros, after - amount.micros, after, referenceID, note, now.unixMillis])
        return LedgerEntry(
            id: db.lastInsertedRowID, userID: userID, kind: kind, amount: amount, balanceBefore: Credits(micros: after - amount.micros),
            balanceAfter: Credits(micros: after), referenceID: referenceID, note: note, createdAt: now)
    }

    static func ledgerEntry(_ db: Database, referenceID: String) throws -> LedgerEntry? {
        try Row.fetchOne(db, sql: "SELECT * FROM credit_ledger WHERE reference_id = ?", arguments: [referenceID]).map(LedgerEntry.init(row:))
    }

}
