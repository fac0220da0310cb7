import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// `/api/usage`: request logs and statistics. Users see their own; admins may name any user
/// with `user_id`, or see everyone's without it.
struct UsageRoutes {
    let api: APIServices

    static let filters: [(String, Schema, String)] = [
        ("model", .text, "Only this model."), ("key_id", .positiveInteger, "Only this API key."),
        ("status", .boundedInteger(100...599), "Only this HTTP status."), ("from", .timeOrDate, "From this time or date, inclusive."),
        ("to", .timeOrDate, "Before this time or date."), ("user_id", .positiveInteger, "Admins: only this user. Ignored for others."),
    ]

    func register(on registry: EndpointRegistry) {
        registry.user(
            Endpoint(
                method: .get, path: "/api/usage/logs", summary: "Request logs, newest first.", query: Self.filters + QueryParameters.pageParameters,
                response: .object([("data", .array(.ref("UsageLog"))), ("next_cursor", .nullable(.integer))]), tag: "usage"), logs)
        registry.user(
            Endpoint(
                method: .get, path: "/api/usage/stats",
                summary: "Totals, and the same broken down by model, provider, key, day (UTC), and the client's and the account's protocol.",
                query: Self.filters,
                response: .object([
                    ("total", .ref("UsageTotals")), ("by_model", .object([])), ("by_provider", .object([])), ("by_key", .object([])),
                    ("by_day", .object([])), ("by_client_protocol", .object([])), ("by_upstream_protocol", .object([])),
                ]), tag: "usage"), stats)
    }

    func query(_ request: Request, user: UserRecord) throws -> UsageQuery {
        var owner: Int64? = user.id
        if user.role == .admin { owner = try QueryParameters(request).int("user_id", in: 1...Int.max).map(Int64.init) }
        return try Self.query(request, owner: owner)
    }

    /// The request's filters over the usage of `owner` (a user or a team's wallet; nil: everyone).
    static func query(_ request: Request, owner: Int64?) throws -> UsageQuery {
        let q = QueryParameters(request)
        return UsageQuery(
            userID: owner, model: q.string("model"), apiKeyID: try q.int("key_id", in: 1...Int.max).map(Int64.init),
            status: try q.int("status", in: 100...599), from: try q.date("from"), to: try q.date("to"), page: try q.page())
    }

    @Sendable func logs(_ request: Request, context: UserContext) async throws -> Response {
        try await logs(try query(request, user: context.user))
    }

    func logs(_ query: UsageQuery) async throws -> Response {
        let rows = try await api.store.usage(query)
        return try APIJSON.response(Page(rows.map(UsageLogView.init), limit: query.page.limit, id: \.id))
    }

    @Sendable func stats(_ request: Request, context: UserContext) async throws -> Response {
        try await stats(try query(request, user: context.user))
    }

    func stats(_ query: UsageQuery) async throws -> Response {
        let stats = try await api.store.usageStats(query)
        let rate = api.creditsPerUSD
        func view(_ totals: [String: UsageTotals]) -> [String: UsageTotalsView] { totals.mapValues { UsageTotalsView($0, creditsPerUSD: rate) } }
        struct Stats: Encodable {
            var total: UsageTotalsView
            var byModel: [String: UsageTotalsView]
            var byProvider: [String: UsageTotalsView]
            var byKey: [String: UsageTotalsView]
            var byDay: [String: UsageTotalsView]
            var byClientProtocol: [String: UsageTotalsView]
            var byUpstreamProtocol: [String: UsageTotalsView]
        }
        return try APIJSON.response(Stats(
            total: UsageTotalsView(stats.total, creditsPerUSD: rate), byModel: view(stats.byModel), byProvider: view(stats.byProvider),
            byKey: view(Dictionary(uniqueKeysWithValues: stats.byKey.map { (String($0.key), $0.value) })), byDay: view(stats.byDay),
            byClientProtocol: view(stats.byClientProtocol), byUpstreamProtocol: view(stats.byUpstreamProtocol)))
    }
}
