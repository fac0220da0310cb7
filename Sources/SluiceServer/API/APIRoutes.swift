import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// Registers all of `/api`, `/openapi.json` and `/docs`.
struct APIRoutes {
    let api: APIServices
    let knownModels: @Sendable () -> Set<String>

    func register(on router: Router<SluiceRequestContext>) {
        let registry = EndpointRegistry(router: router, signIn: SignInMiddleware(tokens: api.tokens, store: api.store))
        describeGateway(registry)
        AuthRoutes(api: api).register(on: registry)
        APIKeyRoutes(api: api, knownModels: knownModels).register(on: registry)
        CreditRoutes(api: api).register(on: registry)
        UsageRoutes(api: api).register(on: registry)
        AdminUserRoutes(api: api).register(on: registry)
        AccountRoutes(api: api).register(on: registry)
        AdminAccountRoutes(api: api).register(on: registry)
        registerPlans(registry)

        let endpoints = registry.endpoints
        let document = OpenAPIDocument.json(endpoints, version: PublicRoutes.version)
        let page = OpenAPIDocument.html(endpoints)
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: document))
        }
        router.get("/docs") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: .init(string: page)))
        }
    }

    private func registerPlans(_ registry: EndpointRegistry) {
        struct PlanView: Encodable {
            struct Allowance: Encodable { var capacity: Int; var recoveryPerHour: Int; var unit: String }
            var name: String
            var displayName: String
            var monthlyCredits: CreditAmount
            var features: [String]
            var poolAllowance: Allowance
        }
        struct Plans: Encodable { var data: [PlanView] }
        let plans = Plans(data: SluiceConfig.Plan.names.compactMap { api.grants.plans[$0] }.map { plan in
            PlanView(
                name: plan.name, displayName: plan.displayName, monthlyCredits: CreditAmount(plan.monthlyCredits), features: plan.features,
                poolAllowance: .init(capacity: plan.poolCapacity, recoveryPerHour: plan.poolRecoveryPerHour, unit: plan.poolUnit))
        })
        registry.anyone(
            Endpoint(
                method: .get, path: "/api/subscriptions/plans", summary: "The plans: monthly credits, features and shared-pool allowance.",
                response: .object([("data", .array(.ref("Plan")))]), tag: "plans"),
            { _, _ in try APIJSON.response(plans) })
    }

    /// The OpenAI- and Anthropic-compatible routes, served by `PublicRoutes` and the `GatewayHandler`s.
    private func describeGateway(_ registry: EndpointRegistry) {
        registry.describeAPIKeyRoute(Endpoint(
            method: .post, path: "/v1/chat/completions",
            summary: "OpenAI chat completions, streaming (SSE) or not. Request and response follow OpenAI's schema.",
            request: .object([("model", .text), ("messages", .array(.object([]))), ("stream", .boolean)], required: ["model", "messages"]),
            response: .object([]), tag: "v1"))
        let messages: [(String, Schema)] = [("model", .text), ("max_tokens", .integer), ("messages", .array(.object([]))), ("stream", .boolean)]
        registry.describeAPIKeyRoute(Endpoint(
            method: .post, path: "/v1/messages",
            summary: """
                Anthropic Messages, streaming (SSE) or not, with the key as `x-api-key` or a bearer token. Request, response and \
                errors follow Anthropic's schema.
                """,
            request: .object(messages, required: ["model", "max_tokens", "messages"]), response: .object([]), tag: "v1"))
        registry.describeAPIKeyRoute(Endpoint(
            method: .post, path: "/v1/messages/count_tokens", summary: "A Messages request's input tokens: an Anthropic account's count, else an estimate; nothing is charged.",
            request: .object([("model", .text), ("messages", .array(.object([])))], required: ["model", "messages"]),
            response: .object([("input_tokens", .integer)]), tag: "v1"))
        registry.describeAPIKeyRoute(Endpoint(
            method: .post, path: "/v1/responses",
            summary: "OpenAI Responses, streaming (SSE) or not, served by any account through chat; `previous_response_id` continues a kept one.",
            request: .object([("model", .text), ("input", .text), ("stream", .boolean)], required: ["model", "input"]),
            response: .object([]), tag: "v1"))
        registry.describeAPIKeyRoute(Endpoint(
            method: .post, path: "/v1/embeddings", summary: "OpenAI embeddings of `input`, a string or a list; charged by input tokens.",
            request: .object([("model", .text), ("input", .text)], required: ["model", "input"]), response: .object([]), tag: "v1"))
        registry.describeAPIKeyRoute(Endpoint(
            method: .post, path: "/v1beta/models/{action}",
            summary: """
                Gemini generateContent: `{model}:generateContent`, or `{model}:streamGenerateContent?alt=sse`, with the key as \
                `x-goog-api-key`, `?key=` or a bearer token. Request, response and errors follow Google's schema.
                """,
            request: .object([("contents", .array(.object([])))], required: ["contents"]), response: .object([]), tag: "v1"))
        registry.describeAPIKeyRoute(Endpoint(
            method: .get, path: "/v1beta/models", summary: "Models this key may use, in Gemini's shape.",
            response: .object([("models", .array(.object([("name", .text), ("displayName", .text)])))]), tag: "v1"))
        registry.describeAPIKeyRoute(Endpoint(
            method: .get, path: "/v1/models", summary: "Models this key may use.",
            response: .object([("object", .text), ("data", .array(.object([("id", .text), ("object", .text), ("created", .integer), ("owned_by", .text)])))]),
            tag: "v1"))
        registry.describeAPIKeyRoute(Endpoint(
            method: .get, path: "/v1/models/{id}", summary: "One model.",
            response: .object([("id", .text), ("object", .text), ("created", .integer), ("owned_by", .text)]), tag: "v1"))
        registry.describeOpenRoute(Endpoint(
            method: .get, path: "/health", summary: "Liveness and store reachability; 503 when degraded.",
            response: .object([("status", .text), ("version", .text), ("store", .text)]), tag: "v1"))
    }
}
