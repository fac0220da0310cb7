import Foundation
import GRDB
import SluiceCore

extension SQLiteStore {
    public func usage(_ query: UsageQuery) async throws -> [StoredUsage] {
        try await pool.read { db in
            var arguments: StatementArguments = []
            let sql = "SELECT * FROM usage_logs WHERE 1" + Self.filters(query, arguments: &arguments) + Self.paging(query.page, arguments: &arguments)
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { StoredUsage(id: try $0.int(required: "id"), record: try UsageRecord(row: $0)) }
        }
    }

    public func usageStats(_ query: UsageQuery) async throws -> UsageStats {
        try await pool.read { db in
            func totals(groupedBy column: String?) throws -> [(String, UsageTotals)] {
                var arguments: StatementArguments = []
                let group = column ?? "''"
                let sql = """
                    SELECT \(group) AS bucket, count(*) AS requests, sum(status >= 400) AS errors,
                        sum(prompt_tokens) AS prompt, sum(completion_tokens) AS completion, sum(cost_micros) AS cost
                    FROM usage_logs WHERE 1\(Self.filters(query, arguments: &arguments)) GROUP BY bucket
                    """
                return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                    (try row.text("bucket") ?? "unknown", try UsageTotals(row: row))
                }
            }
            let day = "strftime('%Y-%m-%d', created_at / 1000, 'unixepoch')"
            return UsageStats(
                total: try totals(groupedBy: nil).first?.1 ?? UsageTotals(),
                byModel: Dictionary(uniqueKeysWithValues: try totals(groupedBy: "model")),
                byProvider: Dictionary(uniqueKeysWithValues: try totals(groupedBy: "provider")),
                byKey: Dictionary(uniqueKeysWithValues: try totals(groupedBy: "CAST(api_key_id AS TEXT)").compactMap { key, value in
                    Int64(key).map { ($0, value) }
                }),
                byDay: Dictionary(uniqueKeysWithValues: try totals(groupedBy: day)),
                byClientProtocol: Dictionary(uniqueKeysWithValues: try totals(groupedBy: "client_protocol")),
                byUpstreamProtocol: Dictionary(uniqueKeysWithValues: try totals(groupedBy: "upstream_protocol")))
        }
    }

    static func filters(_ query: UsageQuery, arguments: inout StatementArguments) -> String {
        var sql = ""
        func add(_ clause: String, _ value: (any DatabaseValueConvertible)?) {
            guard let value else { return }
            sql += " AND \(clause) = ?"
            _ = arguments.append(contentsOf: [value])
        }
        add("user_id", query.userID)
        add("model", query.model)
        add("api_key_id", query.apiKeyID)
        add("status", query.status)
        return sql + timeRange(from: query.from, to: query.to, arguments: &arguments)
    }
}
