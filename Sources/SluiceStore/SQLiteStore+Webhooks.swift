import Foundation
import GRDB
import SluiceCore

extension SQLiteStore {
    public func recordWebhookEvents(of types: Set<WebhookEventType>) { webhookFilter.set(types) }

    /// Puts an event in the outbox, in the caller's transaction.
    static func outbox(_ db: Database, userID: Int64?, type: WebhookEventType, payload: String) throws {
        try db.cachedStatement(sql: "INSERT INTO webhook_events (user_id, type, payload, created_at) VALUES (?, ?, ?, ?)")
            .execute(arguments: [userID, type.rawValue, payload, Date().unixMillis])
    }

    /// An event about an upstream account, for its owner (none for a shared account).
    func outbox(_ db: Database, accountID: Int64, type: WebhookEventType, payload: @autoclosure () throws -> String) throws {
        guard webhookFilter.wants(type) else { return }
        let owner = try Int64?.fetchOne(db, sql: "SELECT owner_user_id FROM upstream_accounts WHERE id = ?", arguments: [accountID]) ?? nil
        try Self.outbox(db, userID: owner, type: type, payload: try payload())
    }

    public func createWebhookEndpoint(url: String, secret: SealedSecret, types: [WebhookEventType]) async throws -> Int64 {
        let list = try StoredJSON.text(types.map(\.rawValue))
        return try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO webhook_endpoints (url, secret_ciphertext, secret_key_version, event_types, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [url, secret.ciphertext, secret.keyVersion, list, Date().unixMillis])
            return db.lastInsertedRowID
        }
    }

    public func webhookEndpoints() async throws -> [WebhookEndpointRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM webhook_endpoints WHERE deleted_at IS NULL ORDER BY id").map(WebhookEndpointRecord.init(row:))
        }
    }

    public func deleteWebhookEndpoint(id: Int64, now: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "UPDATE webhook_endpoints SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL", arguments: [now.unixMillis, id])
            return db.changesCount == 1
        }
    }

    public func pendingWebhookEvents(limit: Int) async throws -> [WebhookEventRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM webhook_events WHERE fanned_out = FALSE ORDER BY id LIMIT ?", arguments: [limit])
                .map(WebhookEventRecord.init(row:))
        }
    }

    public func fanOutWebhookEvents(ids: [Int64], deliveries: [NewWebhookDelivery]) async throws -> Bool {
        guard !ids.isEmpty else { return true }
        do {
            return try await fanOut(ids: ids, deliveries: deliveries)
        } catch is FannedOutElsewhere {
            return false
        }
    }

    private func fanOut(ids: [Int64], deliveries: [NewWebhookDelivery]) async throws -> Bool {
        try await pool.write { db in
            let marks = ids.map { _ in "?" }.joined(separator: ",")
            try db.execute(
                sql: "UPDATE webhook_events SET fanned_out = TRUE WHERE fanned_out = FALSE AND id IN (\(marks))", arguments: StatementArguments(ids))
            // Writes on one SQLite file take turns, so fewer rows means another writer was first; on
            // PostgreSQL the same check guards instances.
            guard db.changesCount == ids.count else { throw FannedOutElsewhere() }
            for delivery in deliveries {
                try db.cachedStatement(
                    sql: """
                        INSERT INTO webhook_deliveries (endpoint_id, user_id, type, payload, status, next_attempt_at, created_at)
                        VALUES (?, ?, ?, ?, 'pending', ?, ?)
                        """
                ).execute(arguments: [
                    delivery.endpointID, delivery.userID, delivery.type.rawValue, delivery.payload, delivery.createdAt.unixMillis,
                    delivery.createdAt.unixMillis,
                ])
            }
            return true
        }
    }

    public func claimDueWebhookDeliveries(now: Date, until: Date, limit: Int) async throws -> [WebhookDeliveryRecord] {
        try await pool.write { db in
            let due = try Row.fetchAll(
                db, sql: WebhookQueries.due(placeholders: ["?", "?", "?"]), arguments: [now.unixMillis, now.unixMillis, limit]
            ).map(WebhookDeliveryRecord.init(row:))
            for delivery in due {
                try db.execute(sql: "UPDATE webhook_deliveries SET lease_until = ? WHERE id = ?", arguments: [until.unixMillis, delivery.id])
            }
            return due
        }
    }

    public func finishWebhookDelivery(id: Int64, _ outcome: WebhookDeliveryOutcome) async throws {
        try await pool.write { db in
            switch outcome {
            case .delivered(let status, let at):
                try db.execute(
                    sql: """
                        UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, last_status = ?, last_error = NULL,
                            delivered_at = ?, lease_until = 0 WHERE id = ?
                        """,
                    arguments: [status, at.unixMillis, id])
            case .retry(let status, let error, let at):
                try db.execute(
                    sql: """
                        UPDATE webhook_deliveries SET attempts = attempts + 1, last_status = ?, last_error = ?, next_attempt_at = ?, lease_until = 0
                        WHERE id = ?
                        """,
                    arguments: [status, error, at.unixMillis, id])
            case .failed(let status, let error):
                try db.execute(
                    sql: """
                        UPDATE webhook_deliveries SET status = 'failed', attempts = attempts + 1, last_status = ?, last_error = ?, lease_until = 0
                        WHERE id = ?
                        """,
                    arguments: [status, error, id])
            }
        }
    }

    public func webhookDeliveries(endpointID: Int64, page: PageRequest) async throws -> [WebhookDeliveryRecord] {
        try await pool.read { db in
            var arguments: StatementArguments = [endpointID]
            let sql = "SELECT * FROM webhook_deliveries WHERE endpoint_id = ?" + Self.paging(page, arguments: &arguments)
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(WebhookDeliveryRecord.init(row:))
        }
    }

    public func replayWebhookDelivery(id: Int64, now: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, lease_until = 0, delivered_at = NULL WHERE id = ?",
                arguments: [now.unixMillis, id])
            return db.changesCount == 1
        }
    }
}

/// Another instance fanned out some of these events first: this one writes nothing and looks again.
struct FannedOutElsewhere: Error {}
