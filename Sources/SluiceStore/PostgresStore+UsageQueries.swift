import Foundation
import PostgresNIO
import SluiceCore

extension PostgresStore {
    public func usage(_ query: UsageQuery) async throws -> [StoredUsage] {
        var sql = PostgresQueryBuilder("SELECT * FROM usage_logs WHERE TRUE")
        Self.filter(&sql, query)
        sql.page(query.page)
        return try await all(sql.query).map { StoredUsage(id: try $0.int(required: "id"), record: try UsageRecord(row: $0)) }
    }

    public func usageStats(_ query: UsageQuery) async throws -> UsageStats {
        func totals(groupedBy column: String?) async throws -> [(String, UsageTotals)] {
            // Sums of bigint are numeric in PostgreSQL; the casts bring them back to bigint.
            var sql = PostgresQueryBuilder(
                """
                SELECT \(column ?? "''") AS bucket, count(*) AS requests, count(*) FILTER (WHERE status >= 400) AS errors,
                    sum(prompt_tokens)::bigint AS prompt, sum(completion_tokens)::bigint AS completion, sum(cost_micros)::bigint AS cost
                FROM usage_logs WHERE TRUE
                """)
            Self.filter(&sql, query)
            sql.append(" GROUP BY bucket")
            return try await all(sql.query).map { row in (try row.text("bucket") ?? "unknown", try UsageTotals(row: row)) }
        }
        let day = "to_char(to_timestamp(created_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        return UsageStats(
            total: try await totals(groupedBy: nil).first?.1 ?? UsageTotals(),
            byModel: Dictionary(uniqueKeysWithValues: try await totals(groupedBy: "model")),
            byProvider: Dictionary(uniqueKeysWithValues: try await totals(groupedBy: "provider")),
            byKey: Dictionary(uniqueKeysWithValues: try await totals(groupedBy: "api_key_id::text").compactMap { key, value in
                Int64(key).map { ($0, value) }
            }),
            byDay: Dictionary(uniqueKeysWithValues: try await totals(groupedBy: day)),
            byClientProtocol: Dictionary(uniqueKeysWithValues: try await totals(groupedBy: "client_protocol")),
            byUpstreamProtocol: Dictionary(uniqueKeysWithValues: try await totals(groupedBy: "upstream_protocol")))
    }

    private static func filter(_ sql: inout PostgresQueryBuilder, _ query: UsageQuery) {
        sql.filter("user_id", query.userID)
        sql.filter("model", query.model)
        sql.filter("api_key_id", query.apiKeyID)
        sql.filter("status", query.status)
        sql.timeRange(from: query.from, to: query.to)
    }
}
