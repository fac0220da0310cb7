import Foundation
import SluiceCore

/// Metering records from rows, the same way for both stores.
extension ServiceAccountRecord {
    init(row: some StoreRow) throws {
        self.init(id: try row.int(required: "id"), name: try row.text(required: "name"), createdAt: try row.date(required: "created_at"))
    }
}

extension ServiceTokenRecord {
    init(row: some StoreRow) throws {
        let scopes = try JSONDecoder().decode([String].self, from: Data(try row.text(required: "scopes").utf8))
        self.init(
            id: try row.int(required: "id"), serviceAccountID: try row.int(required: "service_account_id"), name: try row.text(required: "name"),
            prefix: try row.text(required: "prefix"),
            // A scope this version does not know grants nothing.
            scopes: scopes.compactMap(ServiceScope.init(rawValue:)),
            expiresAt: try row.date("expires_at"), revokedAt: try row.date("revoked_at"), lastUsedAt: try row.date("last_used_at"),
            createdAt: try row.date(required: "created_at"))
    }
}

extension UsageEventRecord {
    init(row: some StoreRow) throws {
        self.init(
            id: try row.int(required: "id"),
            event: NewUsageEvent(
                userID: try row.int(required: "user_id"), serviceAccountID: try row.int(required: "service_account_id"),
                requestID: try row.text(required: "request_id"), eventType: try row.text(required: "event_type"), endpoint: try row.text("endpoint"),
                modelName: try row.text("model_name"), provider: try row.text("provider"), promptTokens: try row.int(required: "prompt_tokens"),
                completionTokens: try row.int(required: "completion_tokens"), tokensUsed: try row.int(required: "tokens_used"),
                creditsCharged: Credits(micros: try row.int(required: "credits_charged_micros")),
                calculationMethod: try row.text(required: "calculation_method"), sessionID: try row.text("session_id"),
                traceID: try row.text("trace_id"), metadata: try row.text("metadata")),
            createdAt: try row.date(required: "created_at"))
    }
}

extension UsageEventStats {
    /// Totals from rows grouped by event type, model and provider (`MeteringQueries.statsSelect`).
    init(groups rows: [some StoreRow]) throws {
        self.init()
        for row in rows {
            let count = try row.int(required: "records")
            totalRecords += count
            totalCredits = totalCredits + Credits(micros: try row.int(required: "credits"))
            totalTokens += try row.int(required: "tokens")
            byEventType[try row.text(required: "event_type"), default: 0] += count
            if let model = try row.text("model_name") { byModel[model, default: 0] += count }
            if let provider = try row.text("provider") { byProvider[provider, default: 0] += count }
        }
    }
}

/// SQL both stores share for metering.
enum MeteringQueries {
    static let statsSelect = """
        SELECT event_type, model_name, provider, count(*) AS records, CAST(coalesce(sum(credits_charged_micros), 0) AS BIGINT) AS credits,
            CAST(coalesce(sum(tokens_used), 0) AS BIGINT) AS tokens
        FROM usage_events WHERE user_id =
        """
    static let statsGroup = " GROUP BY event_type, model_name, provider"

    static func scopesJSON(_ scopes: [ServiceScope]) throws -> String { try StoredJSON.text(scopes.map(\.rawValue)) }
}
