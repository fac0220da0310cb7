import Foundation
import PostgresNIO
import SluiceCore

extension PostgresStore {
    public func storedReply(scope: String, key: String) async throws -> StoredReply? {
        try await first("SELECT * FROM idempotency_keys WHERE scope = \(scope) AND key = \(key)").map(StoredReply.init(row:))
    }

    public func saveReply(scope: String, key: String, _ reply: StoredReply) async throws -> StoredReply {
        try await execute(
            """
            INSERT INTO idempotency_keys (scope, key, request_hash, status, body, created_at)
            VALUES (\(scope), \(key), \(reply.requestHash), \(reply.status), \(reply.body), \(Date().unixMillis))
            ON CONFLICT (scope, key) DO NOTHING
            """)
        return try await storedReply(scope: scope, key: key) ?? reply
    }

    public func createRedemptionCode(_ code: NewRedemptionCode) async throws -> Int64 {
        return try await inserted(
            """
            INSERT INTO redemption_codes (code_hash, prefix, value_micros, max_uses, expires_at, created_by, created_at)
            VALUES (\(code.codeHash), \(code.prefix), \(code.value.micros), \(code.maxUses), \(code.expiresAt?.unixMillis)::bigint,
                \(code.createdBy)::bigint, \(Date().unixMillis))
            RETURNING id
            """).int(required: "id")
    }

    public func redeem(codeHash: String, userID: Int64, now: Date) async throws -> RedeemOutcome {
        try await transaction { connection in
            // FOR UPDATE: redemptions of one code on any instance take turns, so the use count and
            // the one-per-user rule are checked against what the others committed.
            guard let code = try await connection.first(
                """
                SELECT * FROM redemption_codes
                WHERE code_hash = \(codeHash) AND disabled_at IS NULL AND (expires_at IS NULL OR expires_at > \(now.unixMillis))
                FOR UPDATE
                """, logger: logger)
            else { return .notFound }
            let codeID = try code.int(required: "id")
            if try await connection.first("SELECT 1 FROM redemptions WHERE code_id = \(codeID) AND user_id = \(userID)", logger: logger) != nil {
                return .alreadyRedeemed
            }
            guard try await connection.first(
                "UPDATE redemption_codes SET used_count = used_count + 1 WHERE id = \(codeID) AND used_count < max_uses RETURNING id",
                logger: logger) != nil
            else { return .usedUp }
            try await connection.execute(
                "INSERT INTO redemptions (code_id, user_id, created_at) VALUES (\(codeID), \(userID), \(now.unixMillis))", logger: logger)
            let entry = try await appendCredit(
                connection, userID: userID, amount: Credits(micros: try code.int(required: "value_micros")), kind: .recharge,
                referenceID: "redeem:\(codeID):\(userID)", note: "redemption code \(try code.text(required: "prefix"))")
            return .credited(entry)
        }
    }

    public func setRedemptionCodeDisabled(id: Int64, disabled: Bool, now: Date) async throws -> RedemptionCodeRecord? {
        try await first(
            "UPDATE redemption_codes SET disabled_at = \(disabled ? now.unixMillis : nil)::bigint WHERE id = \(id) RETURNING *"
        ).map(RedemptionCodeRecord.init(row:))
    }

    public func redemptionCodes(page: PageRequest) async throws -> [RedemptionCodeRecord] {
        var sql = PostgresQueryBuilder("SELECT * FROM redemption_codes WHERE TRUE")
        sql.page(page)
        return try await all(sql.query).map(RedemptionCodeRecord.init(row:))
    }

    public func transactions(_ query: LedgerQuery) async throws -> [LedgerEntry] {
        var sql = PostgresQueryBuilder("SELECT * FROM credit_ledger WHERE user_id = ")
        sql.bind(query.userID)
        sql.filter("kind", query.kind?.rawValue)
        sql.timeRange(from: query.from, to: query.to)
        sql.page(query.page)
        return try await all(sql.query).map(LedgerEntry.init(row:))
    }
}
