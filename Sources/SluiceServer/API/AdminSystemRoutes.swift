import Foundation
import Hummingbird
import SluiceCore
import SluiceRedis
import SluiceStore

/// Admin routes about the gateway itself: redemption codes once made (list, disable), and the
/// health of what it depends on, for the dashboard's admin pages.
struct AdminSystemRoutes {
    let api: APIServices
    let redis: RedisClient?
    let settlements: SettlementWriter
    let settlementCapacity: Int

    static let codeSchema = Schema.object([
        ("id", .integer), ("prefix", .text), ("credits", .credits), ("max_uses", .integer), ("used_count", .integer),
        ("expires_at", .nullable(.time)), ("disabled", .boolean), ("created_at", .time),
    ])

    func register(on registry: EndpointRegistry) {
        registry.admin(
            Endpoint(
                method: .get, path: "/api/admin/redemption-codes", summary: "Redemption codes, newest first, with their uses (never the codes).",
                query: QueryParameters.pageParameters,
                response: .object([("data", .array(Self.codeSchema)), ("next_cursor", .nullable(.integer))]), tag: "admin"), codes)
        registry.admin(
            Endpoint(
                method: .patch, path: "/api/admin/redemption-codes/{id}", summary: "Disable a code (it redeems nothing from now on), or enable it again.",
                request: .object([("disabled", .boolean)], required: ["disabled"], closed: true), response: Self.codeSchema, tag: "admin"),
            setDisabled)
        registry.admin(
            Endpoint(
                method: .get, path: "/api/admin/health", summary: "The store, Redis, the settlement queue and the pool's accounts, as they are now.",
                response: .object([
                    ("store", .string(values: ["ok", "down"])), ("redis", .string(values: ["ok", "down", "not_configured"])),
                    ("settlement_backlog", .integer), ("settlement_capacity", .integer), ("requests_in_flight", .integer),
                    ("accounts", .object([("total", .integer), ("ok", .integer), ("cooling", .integer), ("needs_reauth", .integer), ("disabled", .integer)])),
                ]), tag: "admin"), health)
    }

    struct CodeView: Encodable {
        var id: Int64
        var prefix: String
        var credits: CreditAmount
        var maxUses: Int
        var usedCount: Int
        var expiresAt: Date?
        var disabled: Bool
        var createdAt: Date

        init(_ record: RedemptionCodeRecord) {
            id = record.id
            prefix = record.prefix
            credits = CreditAmount(record.value)
            maxUses = record.maxUses
            usedCount = record.usedCount
            expiresAt = record.expiresAt
            disabled = record.disabledAt != nil
            createdAt = record.createdAt
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(id, forKey: .id)
            try c.encode(prefix, forKey: .prefix)
            try c.encode(credits, forKey: .credits)
            try c.encode(maxUses, forKey: .maxUses)
            try c.encode(usedCount, forKey: .usedCount)
            try c.encode(expiresAt, forKey: .expiresAt)  // an explicit null: no expiry
            try c.encode(disabled, forKey: .disabled)
            try c.encode(createdAt, forKey: .createdAt)
        }

        enum CodingKeys: String, CodingKey { case id, prefix, credits, maxUses, usedCount, expiresAt, disabled, createdAt }
    }

    @Sendable func codes(_ request: Request, context: AdminContext) async throws -> Response {
        let page = try QueryParameters(request).page()
        let records = try await api.store.redemptionCodes(page: page)
        return try APIJSON.response(Page(records.map(CodeView.init), limit: page.limit, id: \.id))
    }

    @Sendable func setDisabled(_ request: Request, context: AdminContext) async throws -> Response {
        let id = try APIServices.id(context)
        struct Change: Decodable { var disabled: Bool }
        let (body, _) = try await APIJSON.body(Change.self, from: request, allowing: ["disabled"])
        guard let record = try await api.store.setRedemptionCodeDisabled(id: id, disabled: body.disabled, now: Date()) else {
            throw GatewayError.notFound("No such redemption code.")
        }
        await api.log(body.disabled ? "code_disabled" : "code_enabled", user: context.admin.id, actor: context.admin.id, context: context, detail: record.prefix)
        return try APIJSON.response(CodeView(record))
    }

    @Sendable func health(_ request: Request, context: AdminContext) async throws -> Response {
        struct Accounts: Encodable {
            var total = 0, ok = 0, cooling = 0, needsReauth = 0, disabled = 0
        }
        struct Health: Encodable {
            var store: String
            var redis: String
            var settlementBacklog: Int
            var settlementCapacity: Int
            var requestsInFlight: Int
            var accounts: Accounts
        }
        let storeOK = (try? await api.store.ping()) != nil
        var redisState = "not_configured"
        if let redis { redisState = (try? await redis.ping()) != nil ? "ok" : "down" }
        var accounts = Accounts()
        var inFlight = 0
        for record in (try? await api.store.accounts(ownerUserID: nil)) ?? [] {
            let view = AccountView(record, live: api.pool.liveState(record.id))
            accounts.total += 1
            inFlight += view.inFlight
            switch view.state {
            case "cooling": accounts.cooling += 1
            case "needs_reauth": accounts.needsReauth += 1
            case "disabled": accounts.disabled += 1
            default: accounts.ok += 1
            }
        }
        return try APIJSON.response(Health(
            store: storeOK ? "ok" : "down", redis: redisState, settlementBacklog: settlements.backlog, settlementCapacity: settlementCapacity,
            requestsInFlight: inFlight, accounts: accounts))
    }
}
