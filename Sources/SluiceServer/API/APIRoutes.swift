import Foundation
import Hummingbird
import SluiceCore
import SluiceRedis
import SluiceStore

/// Registers all of `/api`, `/openapi.json` and `/docs`.
struct APIRoutes {
    let api: APIServices
    let knownModels: @Sendable () -> Set<String>
    /// Present when `payments.stripe` is configured.
    let payments: PaymentRoutes?
    let webhooks: WebhookDispatcher
    /// Off in production unless `server.api_docs` turns it on.
    let serveDocs: Bool
    /// The SSO providers with a `client_id`.
    let ssoProviders: [String: SSOProvider]
    /// Whether the development token helper is served (`environment: development`).
    let devTokens: Bool
    let files: UserFiles
    /// What `/mcp`'s tools call: this instance's own API.
    let mcpAPI: GatewayAPIClient
    /// For the admin's health page.
    let redis: RedisClient?
    let settlements: SettlementWriter
    let settlementCapacity: Int
    /// The dashboard's cookies are `Secure` when people reach the gateway over https.
    let secureCookies: Bool

    func register(on router: Router<SluiceRequestContext>) {
        let registry = EndpointRegistry(
            router: router, signIn: SignInMiddleware(tokens: api.tokens, store: api.store, use: SignInUse(), external: api.externalTokens,
                requireAdminTwoFactor: api.auth.requireAdminTwoFactor), serviceSignIn: ServiceTokenMiddleware(tokens: api.serviceTokens, keys: api.keyCache))
        GatewayEndpoints.describe(on: registry)
        AuthRoutes(api: api).register(on: registry)
        BrowserSessionRoutes(api: api, secureCookies: secureCookies).register(on: registry)
        SignInRoutes(api: api).register(on: registry)
        PasswordRoutes(api: api).register(on: registry)
        TwoFactorRoutes(api: api).register(on: registry)
        if let verifier = api.externalTokens { ExternalIdentityRoutes(api: api, verifier: verifier).register(on: registry) }
        if let mailer = api.mailer { EmailRoutes(api: api, mailer: mailer).register(on: registry) }
        if !ssoProviders.isEmpty { SSORoutes(api: api, providers: ssoProviders).register(on: registry) }
        if devTokens { DevTokenRoutes(api: api).register(on: registry) }
        let keys = APIKeyRoutes(api: api, knownModels: knownModels)
        keys.register(on: registry)
        CreditRoutes(api: api).register(on: registry)
        UsageRoutes(api: api).register(on: registry)
        ChatSessionRoutes(api: api).register(on: registry)
        FileRoutes(files: files).register(on: registry)
        AdminUserRoutes(api: api).register(on: registry)
        AccountRoutes(api: api).register(on: registry)
        AdminAccountRoutes(api: api).register(on: registry)
        TeamRoutes(api: api).register(on: registry)
        TeamInvitationRoutes(api: api).register(on: registry)
        TeamWalletRoutes(api: api, keys: keys, payments: payments).register(on: registry)
        AdminTeamRoutes(api: api).register(on: registry)
        payments?.register(on: registry)
        ServiceAccountRoutes(api: api).register(on: registry)
        MeteringRoutes(api: api).register(on: registry)
        MeteringCreditRoutes(api: api).register(on: registry)
        WebhookRoutes(api: api, dispatcher: webhooks).register(on: registry)
        AdminSystemRoutes(api: api, redis: redis, settlements: settlements, settlementCapacity: settlementCapacity).register(on: registry)
        registerPlans(registry)
        // Last: the tools are made from the endpoints registered above.
        let mcp = MCPEndpoint(tools: MCPTools(endpoints: registry.endpoints), api: mcpAPI)
        router.group("/mcp").add(middleware: ServiceTokenMiddleware(tokens: api.serviceTokens, keys: api.keyCache)).post(use: mcp.handle)

        guard serveDocs else { return }
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
}
