import Foundation
import GRDB
import SluiceCore

extension SQLiteStore {
    public func storedReply(scope: String, key: String) async throws -> StoredReply? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM idempotency_keys WHERE scope = ? AND key = ?", arguments: [scope, key]).map(StoredReply.init(row:))
        }
    }

    public func saveReply(scope: String, key: String, _ reply: StoredReply) async throws -> StoredReply {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO idempotency_keys (scope, key, request_hash, status, body, created_at) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (scope, key) DO NOTHING
                    """,
                arguments: [scope, key, reply.requestHash, reply.status, reply.body, Date().unixMillis])
            let stored = try Row.fetchOne(db, sql: "SELECT * FROM idempotency_keys WHERE scope = ? AND key = ?", arguments: [scope, key])
            return try stored.map(StoredReply.init(row:)) ?? reply
        }
    }

    public func createRedemptionCode(_ code: NewRedemptionCode) async throws -> Int64 {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO redemption_codes (code_hash, prefix, value_micros, max_uses, expires_at, created_by, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [code.codeHash, code.prefix, code.value.micros, code.maxUses, code.expiresAt?.unixMillis, code.createdBy, Date().unixMillis])
            return db.lastInsertedRowID
        }
    }

    public func redeem(codeHash: String, userID: Int64, now: Date) async throws -> RedeemOutcome {
        try await pool.write { db in
            guard let code = try Row.fetchOne(
                db,
                sql: "SELECT * FROM redemption_codes WHERE code_hash = ? AND disabled_at IS NULL AND (expires_at IS NULL OR expires_at > ?)",
                arguments: [codeHash, now.unixMillis])
            else { return .notFound }
            let codeID: Int64 = code["id"]
            if try Int.fetchOne(db, sql: "SELECT 1 FROM redemptions WHERE code_id = ? AND user_id = ?", arguments: [codeID, userID]) != nil {
                return .alreadyRedeemed
            }
            // The guard in the WHERE clause and the table's CHECK both stop the count passing the limit.
            try db.execute(
                sql: "UPDATE redemption_codes SET used_count = used_count + 1 WHERE id = ? AND used_count < max_uses", arguments: [codeID])
            guard db.changesCount == 1 else { return .usedUp }
            try db.execute(
                sql: "INSERT INTO redemptions (code_id, user_id, created_at) VALUES (?, ?, ?)", arguments: [codeID, userID, now.unixMillis])
            let entry = try self.appendCredit(
                db, userID: userID, amount: Credits(micros: code["value_micros"]), kind: .recharge,
                referenceID: "redeem:\(codeID):\(userID)", note: "redemption code \(code["prefix"] as String)")
            return .credited(entry)
        }
    }

    public func redemptionCodes(page: PageRequest) async throws -> [RedemptionCodeRecord] {
        try await pool.read { db in
            var arguments: StatementArguments = []
            let sql = "SELECT * FROM redemption_codes WHERE 1 = 1" + Self.paging(page, arguments: &arguments)
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(RedemptionCodeRecord.init(row:))
        }
    }

    public func setRedemptionCodeDisabled(id: Int64, disabled: Bool, now: Date) async throws -> RedemptionCodeRecord? {
        try await pool.write { db in
            try Row.fetchOne(
                db, sql: "UPDATE redemption_codes SET disabled_at = ? WHERE id = ? RETURNING *", arguments: [disabled ? now.unixMillis : nil, id]
            ).map(RedemptionCodeRecord.init(row:))
        }
    }

    public func transactions(_ query: LedgerQuery) async throws -> [LedgerEntry] {
        try await pool.read { db in
            var sql = "SELECT * FROM credit_ledger WHERE user_id = ?"
            var arguments: StatementArguments = [query.userID]
            if let kind = query.kind {
                sql += " AND kind = ?"
                _ = arguments.append(contentsOf: [kind.rawValue])
            }
            sql += Self.timeRange(from: query.from, to: query.to, arguments: &arguments)
            sql += Self.paging(query.page, arguments: &arguments)
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(LedgerEntry.init(row:))
        }
    }
}
