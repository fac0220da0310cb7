import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// `/api/admin/webhooks`: endpoints that receive Sluice's events, their delivery log, and replay.
struct WebhookRoutes {
    let api: APIServices
    let dispatcher: WebhookDispatcher

    static let endpoint = Schema.object([("id", .integer), ("url", .text), ("event_types", .array(.text)), ("created_at", .time)])
    static let delivery = Schema.object([
        ("id", .integer), ("type", .text), ("user_id", .nullable(.integer)), ("status", .string(values: ["pending", "delivered", "failed"])),
        ("attempts", .integer), ("next_attempt_at", .time), ("last_status", .nullable(.integer)), ("last_error", .nullable(.text)),
        ("delivered_at", .nullable(.time)), ("created_at", .time), ("body", .text),
    ])

    func register(on registry: EndpointRegistry) {
        registry.admin(
            Endpoint(
                method: .post, path: "/api/admin/webhooks",
                summary: """
                    Register an endpoint for event types. Deliveries are POSTed with Sluice-Signature: t=<unix seconds>,v1=<hex \
                    HMAC-SHA256 of "<t>.<body>"> under the secret, which is in this answer only (made when not given).
                    """,
                request: .object(
                    [
                        ("url", .string(length: 1...2000, pattern: #"^https?://[A-Za-z0-9.-]+(:[0-9]{1,4})?(/[A-Za-z0-9._~/-]*)?$"#)),
                        ("event_types", .array(.string(values: WebhookEventType.allCases.map(\.rawValue)), minItems: 1)),
                        ("secret", .nullable(.string(length: 16...200))),
                    ],
                    required: ["url", "event_types"], closed: true),
                status: 201,
                response: .object([("id", .integer), ("url", .text), ("event_types", .array(.text)), ("created_at", .time), ("secret", .text)]),
                tag: "webhooks"), create)
        registry.admin(
            Endpoint(
                method: .get, path: "/api/admin/webhooks", summary: "The registered endpoints; never their secrets.",
                response: .object([("data", .array(Self.endpoint))]), tag: "webhooks"), list)
        registry.admin(
            Endpoint(
                method: .delete, path: "/api/admin/webhooks/{id}", summary: "Remove an endpoint; its pending deliveries are dropped.",
                status: 204, tag: "webhooks"), remove)
        registry.admin(
            Endpoint(
                method: .get, path: "/api/admin/webhooks/{id}/deliveries", summary: "The endpoint's delivery log, newest first.",
                query: QueryParameters.pageParameters, response: .object([("data", .array(Self.delivery))]), tag: "webhooks"), deliveries)
        registry.admin(
            Endpoint(
                method: .post, path: "/api/admin/webhook-deliveries/{id}/replay",
                summary: "Send a delivery again from now, whether it was delivered, failed or is still being retried.", status: 204,
                tag: "webhooks"), replay)
    }

    struct EndpointView: Encodable {
        var id: Int64
        var url: String
        var eventTypes: [String]
        var createdAt: Date
        var secret: String?
    }

    @Sendable func create(_ request: Request, context: AdminContext) async throws -> Response {
        struct Body: Decodable { var url: String; var eventTypes: [String]; var secret: String? }
        let (body, _) = try await APIJSON.body(Body.self, from: request, allowing: ["url", "event_types", "secret"])
        guard let url = URL(string: body.url), ["http", "https"].contains(url.scheme ?? ""), url.host != nil, body.url.count <= 2000 else {
            throw GatewayError.invalidRequest("`url` must be an http or https URL.", param: "url")
        }
        var types: [WebhookEventType] = []
        for text in body.eventTypes {
            guard let type = WebhookEventType(rawValue: text) else {
                let known = WebhookEventType.allCases.map(\.rawValue).joined(separator: ", ")
                throw GatewayError.invalidRequest("Unknown event type `\(text)`; the types are \(known).", param: "event_types")
            }
            if !types.contains(type) { types.append(type) }
        }
        guard !types.isEmpty else { throw GatewayError.invalidRequest("Name at least one event type.", param: "event_types") }
        if let secret = body.secret, !(16...200).contains(secret.count) {
            throw GatewayError.invalidRequest("`secret` is 16 to 200 characters.", param: "secret")
        }
        let secret = body.secret ?? "whsec_" + AccessTokens.randomToken(bytes: 24)
        let id = try await api.store.createWebhookEndpoint(url: body.url, secret: try api.secrets.seal(secret), types: types)
        try await dispatcher.refresh()
        await api.log("webhook_added", user: context.admin.id, actor: context.admin.id, context: context, detail: body.url)
        return try APIJSON.response(
            EndpointView(id: id, url: body.url, eventTypes: types.map(\.rawValue), createdAt: Date(), secret: secret), status: .created)
    }

    @Sendable func list(_ request: Request, context: AdminContext) async throws -> Response {
        struct List: Encodable { var data: [EndpointView] }
        let endpoints = try await api.store.webhookEndpoints()
        return try APIJSON.response(List(data: endpoints.map {
            EndpointView(id: $0.id, url: $0.url, eventTypes: $0.types.map(\.rawValue), createdAt: $0.createdAt, secret: nil)
        }))
    }

    @Sendable func remove(_ request: Request, context: AdminContext) async throws -> Response {
        let id = try APIServices.id(context)
        guard try await api.store.deleteWebhookEndpoint(id: id, now: Date()) else { throw GatewayError.notFound("No such webhook endpoint.") }
        try await dispatcher.refresh()
        await api.log("webhook_removed", user: context.admin.id, actor: context.admin.id, context: context, detail: "endpoint \(id)")
        return APIJSON.noContent()
    }

    @Sendable func deliveries(_ request: Request, context: AdminContext) async throws -> Response {
        let id = try APIServices.id(context)
        guard try await api.store.webhookEndpoints().contains(where: { $0.id == id }) else { throw GatewayError.notFound("No such webhook endpoint.") }
        let page = try QueryParameters(request).page()
        struct View: Encodable {
            var id: Int64
            var type: String
            var userId: Int64?
            var status: String
            var attempts: Int
            var nextAttemptAt: Date
            var lastStatus: Int?
            var lastError: String?
            var deliveredAt: Date?
            var createdAt: Date
            var body: String
        }
        struct List: Encodable { var data: [View] }
        let rows = try await api.store.webhookDeliveries(endpointID: id, page: page)
        return try APIJSON.response(List(data: rows.map {
            View(
                id: $0.id, type: $0.delivery.type.rawValue, userId: $0.delivery.userID, status: $0.status, attempts: $0.attempts,
                nextAttemptAt: $0.nextAttemptAt, lastStatus: $0.lastStatus, lastError: $0.lastError, deliveredAt: $0.deliveredAt,
                createdAt: $0.delivery.createdAt, body: $0.delivery.payload)
        }))
    }

    @Sendable func replay(_ request: Request, context: AdminContext) async throws -> Response {
        let id = try APIServices.id(context)
        guard try await api.store.replayWebhookDelivery(id: id, now: Date()) else { throw GatewayError.notFound("No such delivery.") }
        await api.log("webhook_replayed", user: context.admin.id, actor: context.admin.id, context: context, detail: "delivery \(id)")
        return APIJSON.noContent()
    }
}
