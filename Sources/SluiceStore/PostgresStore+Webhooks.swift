import Foundation
import PostgresNIO
import SluiceCore

extension PostgresStore {
    public func recordWebhookEvents(of types: Set<WebhookEventType>) { webhookFilter.set(types) }

    /// Puts an event in the outbox, in the caller's transaction.
    func outbox(_ connection: PostgresConnection, userID: Int64?, type: WebhookEventType, payload: String) async throws {
        try await connection.execute(
            "INSERT INTO webhook_events (user_id, type, payload, created_at) VALUES (\(userID)::bigint, \(type.rawValue), \(payload), \(Date().unixMillis))",
            logger: logger)
    }

    /// An event about an upstream account, for its owner (none for a shared account).
    func outbox(_ connection: PostgresConnection, accountID: Int64, type: WebhookEventType, payload: @autoclosure () throws -> String) async throws {
        guard webhookFilter.wants(type) else { return }
        let text = try payload()
        try await connection.execute(
            """
            INSERT INTO webhook_events (user_id, type, payload, created_at)
            SELECT owner_user_id, \(type.rawValue), \(text), \(Date().unixMillis) FROM upstream_accounts WHERE id = \(accountID)
            """, logger: logger)
    }

    public func createWebhookEndpoint(url: String, secret: SealedSecret, types: [WebhookEventType]) async throws -> Int64 {
        let list = try StoredJSON.text(types.map(\.rawValue))
        return try await inserted(
            """
            INSERT INTO webhook_endpoints (url, secret_ciphertext, secret_key_version, event_types, created_at)
            VALUES (\(url), \(secret.ciphertext), \(secret.keyVersion), \(list), \(Date().unixMillis))
            RETURNING id
            """
        ).int(required: "id")
    }

    public func webhookEndpoints() async throws -> [WebhookEndpointRecord] {
        try await all("SELECT * FROM webhook_endpoints WHERE deleted_at IS NULL ORDER BY id").map(WebhookEndpointRecord.init(row:))
    }

    public func deleteWebhookEndpoint(id: Int64, now: Date) async throws -> Bool {
        try await first("UPDATE webhook_endpoints SET deleted_at = \(now.unixMillis) WHERE id = \(id) AND deleted_at IS NULL RETURNING id") != nil
    }

    public func pendingWebhookEvents(limit: Int) async throws -> [WebhookEventRecord] {
        try await all("SELECT * FROM webhook_events WHERE fanned_out = FALSE ORDER BY id LIMIT \(limit)").map(WebhookEventRecord.init(row:))
    }

    public func fanOutWebhookEvents(ids: [Int64], deliveries: [NewWebhookDelivery]) async throws -> Bool {
        guard !ids.isEmpty else { return true }
        do {
            return try await transaction { connection in
                let marked = try await connection.all(
                    "UPDATE webhook_events SET fanned_out = TRUE WHERE fanned_out = FALSE AND id = ANY(\(ids)) RETURNING id", logger: self.logger)
                // Another instance fanned some of these out first: write nothing, look again.
                guard marked.count == ids.count else { throw FannedOutElsewhere() }
                for delivery in deliveries {
                    try await connection.execute(
                        """
                        INSERT INTO webhook_deliveries (endpoint_id, user_id, type, payload, status, next_attempt_at, created_at)
                        VALUES (\(delivery.endpointID), \(delivery.userID)::bigint, \(delivery.type.rawValue), \(delivery.payload), 'pending',
                            \(delivery.createdAt.unixMillis), \(delivery.createdAt.unixMillis))
                        """, logger: self.logger)
                }
                return true
            }
        } catch is FannedOutElsewhere {
            return false
        }
    }

    public func claimDueWebhookDeliveries(now: Date, until: Date, limit: Int) async throws -> [WebhookDeliveryRecord] {
        try await transaction { connection in
            let sql = WebhookQueries.due(placeholders: ["$1", "$2", "$3"]) + " FOR UPDATE OF d SKIP LOCKED"
            var binds = PostgresBindings()
            binds.append(now.unixMillis, context: .default)
            binds.append(now.unixMillis, context: .default)
            binds.append(Int64(limit), context: .default)
            let due = try await connection.all(PostgresQuery(unsafeSQL: sql, binds: binds), logger: self.logger).map(WebhookDeliveryRecord.init(row:))
            if !due.isEmpty {
                try await connection.execute(
                    "UPDATE webhook_deliveries SET lease_until = \(until.unixMillis) WHERE id = ANY(\(due.map(\.id)))", logger: self.logger)
            }
            return due
        }
    }

    public func finishWebhookDelivery(id: Int64, _ outcome: WebhookDeliveryOutcome) async throws {
        switch outcome {
        case .delivered(let status, let at):
            try await execute(
                """
                UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, last_status = \(status), last_error = NULL,
                    delivered_at = \(at.unixMillis), lease_until = 0 WHERE id = \(id)
                """)
        case .retry(let status, let error, let at):
            try await execute(
                """
                UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = \(status)::bigint, last_error = \(error),
                    next_attempt_at = \(at.unixMillis), lease_until = 0 WHERE id = \(id)
                """)
        case .failed(let status, let error):
            try await execute(
                """
                UPDATE webhook_deliveries SET status = 'failed', attempts = attempts + 1, last_status = \(status)::bigint, last_error = \(error),
                    lease_until = 0 WHERE id = \(id)
                """)
        }
    }

    public func webhookDeliveries(endpointID: Int64, page: PageRequest) async throws -> [WebhookDeliveryRecord] {
        var sql = PostgresQueryBuilder("SELECT * FROM webhook_deliveries WHERE endpoint_id = ")
        sql.bind(endpointID)
        sql.page(page)
        return try await all(sql.query).map(WebhookDeliveryRecord.init(row:))
    }

    public func replayWebhookDelivery(id: Int64, now: Date) async throws -> Bool {
        try await first(
            """
            UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = \(now.unixMillis), lease_until = 0, delivered_at = NULL
            WHERE id = \(id) RETURNING id
            """) != nil
    }
}
