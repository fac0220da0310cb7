import Foundation
import PostgresNIO

extension PostgresStore {
    public func checkpointInFlight(_ charges: [InFlightCharge], instanceID: String, leaseUntil: Date) async throws {
        guard !charges.isEmpty else { return }
        try await transaction { connection in
            for charge in charges {
                let r = charge.record
                // A request that settled since its checkpoint was taken is not written back; one
                // that settles while this runs may be, and its claim drops the row then.
                try await connection.execute(
                    """
                    INSERT INTO requests_in_flight (\(unescaped: InFlightColumns.list))
                    SELECT \(r.requestID), \(instanceID), \(leaseUntil.unixMillis), \(r.userID), \(r.apiKeyID), \(charge.keyBudgeted),
                        \(r.model), \(r.servedModel)::text, \(r.clientProtocol)::text, \(r.upstreamProtocol)::text, \(r.provider)::text,
                        \(r.accountID)::bigint, \(r.usage.promptTokens), \(r.usage.completionTokens), \(r.usage.cachedPromptTokens),
                        \(r.usage.cacheWriteTokens), \(r.charged.micros), \(r.costEstimated), \(r.latencyMs), \(r.ttftMs)::bigint,
                        \(r.status), \(r.endReason), \(r.stream), \(r.createdAt.unixMillis), \(charge.memberBudgetID)::bigint
                    WHERE NOT EXISTS (SELECT 1 FROM usage_logs WHERE request_id = \(r.requestID))
                    ON CONFLICT (request_id) DO UPDATE SET \(unescaped: InFlightColumns.refreshed)
                    """, logger: logger)
            }
        }
    }

    public func claimLapsedInFlight(instanceID: String, now: Date, leaseUntil: Date, limit: Int) async throws -> [InFlightCharge] {
        try await transaction { connection in
            try await connection.execute(
                """
                DELETE FROM requests_in_flight WHERE lease_until < \(now.unixMillis)
                AND EXISTS (SELECT 1 FROM usage_logs WHERE usage_logs.request_id = requests_in_flight.request_id)
                """, logger: logger)
            // SKIP LOCKED: two instances claiming at once take different rows, never one twice.
            return try await connection.all(
                """
                UPDATE requests_in_flight SET instance_id = \(instanceID), lease_until = \(leaseUntil.unixMillis)
                WHERE request_id IN (
                    SELECT request_id FROM requests_in_flight WHERE lease_until < \(now.unixMillis) AND instance_id <> \(instanceID)
                    LIMIT \(limit) FOR UPDATE SKIP LOCKED)
                RETURNING *
                """, logger: logger
            ).map(InFlightCharge.init(row:))
        }
    }
}
