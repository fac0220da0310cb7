/// The columns of `requests_in_flight`, in the order both stores bind their values.
enum InFlightColumns {
    static let names = [
        "request_id", "instance_id", "lease_until", "user_id", "api_key_id", "key_budgeted", "model", "served_model", "client_protocol",
        "upstream_protocol", "provider", "account_id", "prompt_tokens", "completion_tokens", "cached_tokens", "cache_write_tokens",
        "cost_micros", "cost_estimated", "latency_ms", "ttft_ms", "status", "end_reason", "stream", "created_at", "member_budget_id",
    ]
    static let list = names.joined(separator: ", ")
    /// A checkpoint refreshes everything but the request's identity and start.
    static let refreshed = names.filter { !["request_id", "user_id", "api_key_id", "created_at"].contains($0) }
        .map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
}

extension InFlightCharge {
    init(row: some StoreRow) throws {
        self.init(
            record: try UsageRecord(row: row), keyBudgeted: try row.bool(required: "key_budgeted"), memberBudgetID: try row.int("member_budget_id"))
        record.checkpointed = true
    }
}
