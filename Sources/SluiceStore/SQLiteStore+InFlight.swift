import Foundation
import GRDB

extension SQLiteStore {
    public func checkpointInFlight(_ charges: [InFlightCharge], instanceID: String, leaseUntil: Date) async throws {
        guard !charges.isEmpty else { return }
        try await pool.write { db in
            for charge in charges {
                let record = charge.record
                // Writes are serialized here, so the usage-row check is exact: a request that
                // settled since its checkpoint was taken is not written back.
                try db.cachedStatement(
                    sql: """
                        INSERT INTO requests_in_flight (\(InFlightColumns.list))
                        SELECT \(Array(repeating: "?", count: InFlightColumns.names.count).joined(separator: ", "))
                        WHERE NOT EXISTS (SELECT 1 FROM usage_logs WHERE request_id = ?)
                        ON CONFLICT (request_id) DO UPDATE SET \(InFlightColumns.refreshed)
                        """
                ).execute(arguments: [
                    record.requestID, instanceID, leaseUntil.unixMillis, record.userID, record.apiKeyID, charge.keyBudgeted, record.model,
                    record.servedModel, record.clientProtocol, record.upstreamProtocol, record.provider, record.accountID,
                    record.usage.promptTokens, record.usage.completionTokens, record.usage.cachedPromptTokens, record.usage.cacheWriteTokens,
                    record.charged.micros, record.costEstimated, record.latencyMs, record.ttftMs, record.status, record.endReason,
                    record.stream, record.createdAt.unixMillis, charge.memberBudgetID, record.requestID,
                ])
            }
        }
    }

    public func claimLapsedInFlight(instanceID: String, now: Date, leaseUntil: Date, limit: Int) async throws -> [InFlightCharge] {
        try await pool.write { db in
            try db.execute(
                sql: """
                    DELETE FROM requests_in_flight WHERE lease_until < ?
                    AND EXISTS (SELECT 1 FROM usage_logs WHERE usage_logs.request_id = requests_in_flight.request_id)
                    """, arguments: [now.unixMillis])
            return try Row.fetchAll(
                db,
                sql: """
                    UPDATE requests_in_flight SET instance_id = ?, lease_until = ?
                    WHERE request_id IN (SELECT request_id FROM requests_in_flight WHERE lease_until < ? AND instance_id <> ? LIMIT ?)
                    RETURNING *
                    """, arguments: [instanceID, leaseUntil.unixMillis, now.unixMillis, instanceID, limit]
            ).map(InFlightCharge.init(row:))
        }
    }
}
