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
            return try self.appendCredit(db, userID: userID, amount: amount, kind: kind, referenceID: referenceID, note: note)
        }
    }

    public func ledgerEntry(referenceID: String) async throws -> LedgerEntry? {
        try await pool.read { db in try Self.ledgerEntry(db, referenceID: referenceID) }
    }

    public func recordSettlements(_ records: [UsageRecord]) async throws -> [PersistedCharge] {
        try await pool.write { db in
            var written: [UsageRecord] = []
            for record in records {
                // Cached statements: the writer runs these for every request, compiling them once.
                try db.cachedStatement(
                    sql: """
                        INSERT INTO usage_logs (request_id, user_id, api_key_id, model, served_model, client_protocol, upstream_protocol,
                            provider, account_id, prompt_tokens, completion_tokens, cached_tokens, cache_write_tokens, cost_micros,
                            cost_estimated, latency_ms, ttft_ms, status, end_reason, stream, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        ON CONFLICT (request_id) DO NOTHING
                        """
                ).execute(
                    arguments: [
                        record.requestID, record.userID, record.apiKeyID, record.model, record.servedModel, record.clientProtocol,
                        record.upstreamProtocol, record.provider,
                        record.accountID, record.usage.promptTokens, record.usage.completionTokens, record.usage.cachedPromptTokens,
                        record.usage.cacheWriteTokens,
                        record.charged.micros, record.costEstimated, record.latencyMs, record.ttftMs, record.status,
                        record.endReason, record.stream, record.createdAt.unixMillis,
                    ])
                // A request id seen before was settled before: charge nothing again.
                if db.changesCount == 1 { written.append(record) }
                if record.checkpointed {
                    try db.cachedStatement(sql: "DELETE FROM requests_in_flight WHERE request_id = ?").execute(arguments: [record.requestID])
                }
            }
            let batch = SettlementBatch(written: written)
            var lines: [SettlementBatch.LedgerLine] = []
            let now = Date().unixMillis
            for user in batch.users {
                guard let after = try Int64.fetchOne(
                    db.cachedStatement(sql: "UPDATE users SET balance_micros = balance_micros - ? WHERE id = ? RETURNING balance_micros"),
                    arguments: [user.total.micros, user.userID])
                else { throw DatabaseError(resultCode: .SQLITE_CONSTRAINT, message: "no user \(user.userID)") }
                if webhookFilter.wants(.creditConsumed) || webhookFilter.wants(.balanceLow) {
                    try Self.outbox(db, userID: user.userID, type: .creditConsumed, payload: try WebhookPayload.consumed(user, balanceAfter: after))
                }
                for line in user.ledgerLines(balanceAfterBatch: after) {
                    try db.cachedStatement(sql: Self.insertLedgerEntry).execute(arguments: [
                        user.userID, LedgerKind.consume.rawValue, -line.record.charged.micros, line.balanceBefore, line.balanceAfter,
                        line.record.requestID, line.record.model, now,
                    ])
                    lines.append(line)
                }
            }
            var remaining: [Int64: Int64] = [:]
            var keyMember: [Int64: Int64] = [:]
            for (keyID, use) in batch.keyUse {
                let row = try Row.fetchOne(
                    db.cachedStatement(
                        sql: """
                            UPDATE api_keys SET spent_micros = spent_micros + ?, last_used_at = max(coalesce(last_used_at, 0), ?)
                            WHERE id = ? RETURNING spend_limit_micros - spent_micros AS remaining, team_member_id
                            """),
                    arguments: [use.spent, use.lastUsed, keyID])
                remaining[keyID] = try row?.int("remaining")
                keyMember[keyID] = try row?.int("team_member_id")
            }
            // A team key's spend counts against its member's limit too. A membership that has
            // ended since matches no row, and a member without a limit reports no allowance.
            var memberRemaining: [Int64: Int64] = [:]
            for (membershipID, spent) in SettlementBatch.memberSpend(keyMember: keyMember, keyUse: batch.keyUse) {
                memberRemaining[membershipID] = try Int64?.fetchOne(
                    db.cachedStatement(
                        sql: "UPDATE team_members SET spent_micros = spent_micros + ? WHERE id = ? RETURNING spend_limit_micros - spent_micros"),
                    arguments: [spent, membershipID]) ?? nil
            }
            return SettlementBatch.persisted(lines, keySpendRemaining: remaining, keyMember: keyMember, memberSpendRemaining: memberRemaining)
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
    func appendCredit(
        _ db: Database, userID: Int64, amount: Credits, kind: LedgerKind, referenceID: String, note: String?
    ) throws -> LedgerEntry {
        guard let after = try Int64.fetchOne(
            db.cachedStatement(sql: "UPDATE users SET balance_micros = balance_micros + ? WHERE id = ? RETURNING balance_micros"),
            arguments: [amount.micros, userID])
        else { throw DatabaseError(resultCode: .SQLITE_CONSTRAINT, message: "no user \(userID)") }
        let now = Date(unixMillis: Date().unixMillis)
        try db.cachedStatement(sql: Self.insertLedgerEntry).execute(
            arguments: [userID, kind.rawValue, amount.micros, after - amount.micros, after, referenceID, note, now.unixMillis])
        let entry = LedgerEntry(
            id: db.lastInsertedRowID, userID: userID, kind: kind, amount: amount, balanceBefore: Credits(micros: after - amount.micros),
            balanceAfter: Credits(micros: after), referenceID: referenceID, note: note, createdAt: now)
        if let (type, payload) = try WebhookPayload.forEntry(entry, filter: webhookFilter) {
            try Self.outbox(db, userID: userID, type: type, payload: payload)
        }
        return entry
    }

    static let insertLedgerEntry = """
        INSERT INTO credit_ledger (user_id, kind, amount_micros, balance_before_micros, balance_after_micros,
            reference_id, note, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        """

    static func ledgerEntry(_ db: Database, referenceID: String) throws -> LedgerEntry? {
        try Row.fetchOne(db, sql: "SELECT * FROM credit_ledger WHERE reference_id = ?", arguments: [referenceID]).map(LedgerEntry.init(row:))
    }

}
