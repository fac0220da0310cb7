import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import SluiceCore
import SluiceProviders
import SluiceRedis
import SluiceStore

/// The parts of a running gateway, for the CLI and for tests that need to look inside.
public struct Gateway: Sendable {
    public let store: any GatewayStore
    /// What the instances share: holds, budgets, windows, allowances, sign-in limits, events.
    let shared: SharedState
    public let grants: PlanGrants
    public let settlements: SettlementWriter
    /// Checkpoints of running requests, and the settling of those whose instance died.
    public let inFlight: InFlightJournal
    public let pool: AccountPool
    public let authenticator: KeyAuthenticator
    public let secrets: SecretBox
    public let catalog: ProviderCatalog
    /// What every rule reads the time from; a test's own clock in tests.
    public let clock: any WallClock
    /// The drain after SIGTERM, shared by the server's streams and its readiness.
    public let drain: Drain
    /// Writes the exchanges of keys flagged `record_conversations` to their chat sessions.
    public let conversations: ConversationRecorder

    public var credits: any CreditHolds { shared.credits }
    /// What each key with a spending limit may still spend.
    public var spendingLimits: SpendingLimits { shared.spendingLimits }
    public var rateLimiter: any KeyRateLimiting { shared.rateLimiter }
    public var allowances: any PoolAllowances { shared.allowances }
    var loginThrottle: any LoginThrottling { shared.loginThrottle }
    /// Set when `redis.url` is: the client and the exchange of pool events between instances.
    public var redis: RedisClient? { shared.redis }
    var exchange: RedisClusterEvents? { shared.exchange }

    /// Closes what `openGateway` opened, for commands that ran no services.
    public func close() async {
        try? await redis?.shutdown()
        await store.close()
    }
}

public struct StartupError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Opens the store and loads everything `buildApplication` needs, without starting any service.
/// The CLI's admin commands use it too.
public func openGateway(
    config: SluiceConfig, extraProviders: [ProviderManifest] = [], clock: any WallClock = SystemClock(), logger: Logger
) async throws -> Gateway {
    let catalog = try loadCatalog(config, extraProviders: extraProviders)
    try checkSettlement(config.settlement)
    let secrets = try makeSecretBox(config.security)
    let store = try await openStore(config.database, logger: logger)
    let shared: SharedState
    do { shared = try SharedState.open(config.redis, auth: config.auth, store: store, clock: clock, logger: logger) } catch {
        await store.close()
        throw error
    }
    let settlements = SettlementWriter(
        store: store, credits: shared.credits, spendingLimits: shared.spendingLimits, rateLimiter: shared.rateLimiter,
        allowances: shared.allowances, capacity: config.settlement.queueCapacity,
        batchSize: config.settlement.batchSize,
        gatherWindow: .milliseconds(config.settlement.gatherMillis),
        clock: clock, logger: logger.with(label: "settlement"))
    let inFlight = InFlightJournal(
        store: store, writer: settlements, interval: .milliseconds(config.settlement.checkpointMillis),
        lease: .seconds(config.settlement.checkpointLeaseSeconds), clock: clock, logger: logger.with(label: "in-flight"))
    var poolSettings = AccountPool.Settings()
    poolSettings.stickyGrace = TimeInterval(config.accounts.stickyGraceSeconds)
    poolSettings.stickyTTL = TimeInterval(config.accounts.stickyTTLSeconds)
    poolSettings.maxQueued = config.accounts.maxQueuedRequests
    poolSettings.oauthRefreshAhead = TimeInterval(config.accounts.oauthRefreshAheadSeconds)
    let pool = AccountPool(
        store: store, secrets: secrets, catalog: catalog, aliases: config.models.aliases, settings: poolSettings,
        refreshInterval: .seconds(config.accounts.refreshSeconds), events: shared.events, clock: clock, logger: logger)
    let authenticator = KeyAuthenticator(
        store: store, ttl: .milliseconds(config.auth.keyCacheTTLMillis), capacity: config.auth.keyCacheSize, events: shared.events,
        clock: clock)
    let stripe = config.payments.stripe
    let grants = PlanGrants(
        plans: config.plans, invoicedPlans: stripe.enabled ? Set(stripe.planPrices.keys) : [], store: store, credits: shared.credits,
        logger: logger.with(label: "plans"))
    shared.exchange?.onEvent { [pool, authenticator] event in
        pool.apply(event)
        authenticator.apply(event)
    }
    return Gateway(
        store: store, shared: shared, grants: grants, settlements: settlements, inFlight: inFlight, pool: pool, authenticator: authenticator,
        secrets: secrets, catalog: catalog, clock: clock, drain: Drain(grace: .seconds(config.server.drainSeconds)),
        conversations: ConversationRecorder(store: store, logger: logger.with(label: "conversations")))
}

func makeSecretBox(_ security: SluiceConfig.Security) throws -> SecretBox {
    guard !security.encryptionKey.isEmpty else {
        throw StartupError(
            "no encryption key for account secrets: set SLUICE_SECURITY_ENCRYPTION_KEY (or security.encryption_key_file) "
                + "to base64 of 32 random bytes, e.g. `openssl rand -base64 32`")
    }
    guard let key = Data(base64Encoded: security.encryptionKey), key.count == 32 else {
        throw StartupError("security.encryption_key must be base64 of exactly 32 bytes")
    }
    return try SecretBox(keys: [security.encryptionKeyVersion: key], activeVersion: security.encryptionKeyVersion)
}

/// Wires the whole gateway: store, credit book, account pool, upstream client, routes and services.
public func buildApplication(
    config: SluiceConfig, gateway: Gateway, logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) async throws -> some ApplicationProtocol {
    try checkEnvironment(config)
    try await gateway.pool.reload()

    var clientConfig = UpstreamHTTPClient.Configuration()
    clientConfig.connectTimeout = .seconds(Int64(config.upstream.connectTimeoutSeconds))
    clientConfig.readTimeout = .seconds(Int64(config.upstream.readTimeoutSeconds))
    if config.server.sseKeepaliveSeconds > 0 { clientConfig.heartbeat = .seconds(Int64(config.server.sseKeepaliveSeconds)) }
    let httpClient = UpstreamHTTPClient(group: MultiThreadedEventLoopGroup.singleton, configuration: clientConfig)

    gateway.pool.useProber(verificationProbe(http: httpClient, catalog: gateway.catalog))
    let tokenClient = OAuthTokenClient(http: httpClient)
    gateway.pool.useTokenRefresher { tokens, endpoint, proxy in await tokenClient.refresh(tokens, at: endpoint, through: proxy) }

    let allowance = SharedPoolAllowance(
        allowances: gateway.allowances, plans: config.plans, contributorBonusPercent: config.accounts.contributorBonusPercent,
        trustBonusPercentPerLevel: config.accounts.trustBonusPercentPerLevel, pool: gateway.pool)
    let admission = Admission(
        pool: gateway.pool, rateLimiter: gateway.rateLimiter, allowance: allowance, settlements: gateway.settlements, clock: gateway.clock)
    let holds = RequestHolds(
        credits: gateway.credits, spendingLimits: gateway.spendingLimits, pricing: Pricing(creditsPerUSD: config.billing.creditsPerUSD),
        allowance: allowance, writer: gateway.settlements, journal: gateway.inFlight)
    let dispatcher = UpstreamDispatcher(
        pool: gateway.pool, http: httpClient, catalog: gateway.catalog, limits: config.upstream, waits: config.accounts)
    let server = config.server
    let drain = gateway.drain
    let streamLimits = StreamLimits(
        keepalive: server.sseKeepaliveSeconds > 0 ? .seconds(server.sseKeepaliveSeconds) : nil,
        maxDuration: server.maxStreamSeconds > 0 ? .seconds(server.maxStreamSeconds) : nil,
        maxBytes: server.maxStreamBytes > 0 ? server.maxStreamBytes : nil, drain: drain)
    /// One hot path per client protocol, sharing every part.
    func handler<API: ClientAPI>(_ api: API) -> GatewayHandler<API> {
        GatewayHandler(
            api: api, authenticator: gateway.authenticator, admission: admission, holds: holds, dispatcher: dispatcher,
            maxBodyBytes: config.server.maxBodyBytes, streamLimits: streamLimits, recorder: api.recordsConversations ? gateway.conversations : nil)
    }
    let routes = PublicRoutes(
        authenticator: gateway.authenticator, pool: gateway.pool, store: gateway.store, redis: gateway.redis,
        startedAt: Int(Date().timeIntervalSince1970), drain: drain)

    let router = Router(context: SluiceRequestContext.self)
    let requestMetrics = RequestMetrics()
    let (tracing, spanExporter) = try RequestTracing.make(config.tracing, logger: logger.with(label: "tracing"))
    // Outermost: it counts, logs and traces the answer every error became.
    router.add(middleware: RequestObserver(
        metrics: requestMetrics, accessLog: config.logging.accessLog ? logger.with(label: "access") : nil, tracing: tracing))
    // Outside the error middleware, so that the errors a page is shown carry the CORS headers too.
    if let cors = CORSPolicy(config.server.cors) { router.add(middleware: CORSMiddleware(policy: cors)) }
    router.add(middleware: OpenAIErrorMiddleware())
    routes.register(
        on: router, chat: handler(ChatCompletionsAPI()), messages: handler(MessagesAPI()),
        countTokens: MessagesTokenCounter(
            authenticator: gateway.authenticator, pool: gateway.pool, dispatcher: dispatcher, maxBodyBytes: config.server.maxBodyBytes),
        gemini: handler(GeminiAPI()), embeddings: handler(EmbeddingsAPI()), responses: handler(ResponsesAPI(
            store: gateway.store, retention: TimeInterval(config.responses.retentionHours) * 3600, clock: gateway.clock)))
    if config.metrics.enabled {
        MetricsRoute(
            pool: gateway.pool, settlements: gateway.settlements, inFlight: gateway.inFlight, requests: requestMetrics, keys: gateway.authenticator,
            bearerToken: config.metrics.bearerToken
        ).register(on: router)
    }
    let signIn = try SignInServices(config, store: gateway.store, http: httpClient, logger: logger)
    let api = APIServices(
        store: gateway.store, tokens: await accessTokens(config.auth, logger: logger), hasher: PasswordHasher(cost: config.auth.bcryptCost),
        throttle: gateway.loginThrottle,
        keyCache: gateway.authenticator, credits: gateway.credits, spendingLimits: gateway.spendingLimits, grants: gateway.grants, auth: config.auth,
        creditsPerUSD: config.billing.creditsPerUSD, pool: gateway.pool, allowance: allowance, secrets: gateway.secrets,
        catalog: gateway.catalog, serviceTokens: ServiceTokenAuthenticator(store: gateway.store),
        externalTokens: try externalTokens(config.auth.external, http: httpClient), mailer: signIn.mailer)
    let pool = gateway.pool
    let payments = try paymentRoutes(config, api: api, http: httpClient, logger: logger)
    let webhooks = WebhookDispatcher(
        store: gateway.store, secrets: gateway.secrets, http: httpClient, settings: .init(config), logger: logger.with(label: "webhooks"))
    // Before the first request, so the outbox records what registered endpoints want from the start.
    try await webhooks.refresh()
    let listener = ListenerAddress(host: config.server.host)
    let files = UserFiles(
        store: gateway.store, storage: try await fileStorage(config, http: httpClient), maxFileBytes: config.files.maxFileBytes,
        quotaBytes: Int64(config.files.userQuotaBytes), logger: logger.with(label: "files"))
    APIRoutes(
        api: api, knownModels: { Set(pool.servedModels().map(\.model)) }, payments: payments, webhooks: webhooks, serveDocs: config.serveAPIDocs,
        ssoProviders: signIn.ssoProviders, devTokens: config.environment == .development, files: files,
        mcpAPI: GatewayAPIClient(http: httpClient, baseURL: { listener.baseURL }), redis: gateway.redis, settlements: gateway.settlements,
        settlementCapacity: config.settlement.queueCapacity, secureCookies: config.server.publicURL.lowercased().hasPrefix("https://")
    ).register(on: router)
    if let directory = ResourceLocator.find("Dashboard", configured: config.server.dashboardDir),
        let assets = DashboardRoutes.load(directory: directory, logger: logger)
    {
        DashboardRoutes(assets: assets, tokens: api.tokens, store: gateway.store).register(on: router)
    } else {
        logger.warning("no dashboard: set server.dashboard_dir to its directory", metadata: ["configured": "\(config.server.dashboardDir)"])
    }

    // Shutdown runs in reverse: the server stops first, then the span exporter, the mail and
    // webhook senders, the client, the account refresher, the event exchange, the in-flight checkpoints
    // (the server's requests have settled by then), the settlement writer, which settles and
    // writes every queued charge, then Redis, the conversation recorder, and last the store.
    var services: [any Service] = [StoreService(store: gateway.store), gateway.conversations]
    if let redis = gateway.redis { services.append(redis) }
    services += [gateway.settlements, gateway.inFlight]
    if let exchange = gateway.exchange { services.append(exchange) }
    services += [gateway.pool, gateway.grants, UpstreamClientService(client: httpClient), webhooks]
    if let mailSender = signIn.mailSender { services.append(mailSender) }
    // After the server in shutdown order, so the spans of its last requests are sent.
    if let spanExporter { services.append(spanExporter) }
    // Hostile clients: slow headers meet the idle timeout, slow bodies the read deadline.
    let readLimit = TimeAmount.seconds(Int64(server.requestReadSeconds))
    let http1 = HTTP1Channel.Configuration(
        additionalChannelHandlers: [RequestReadDeadline(limit: readLimit)],
        idleTimeout: .seconds(Int64(server.idleTimeoutSeconds)),
        httpDecoderConfiguration: .init(maxHeaderFieldSize: server.maxHeaderBytes, maxHeaderListSize: server.maxHeaderBytes))
    return Application(
        router: MethodCheckingRouter(router: router),
        server: .http1(configuration: http1),
        configuration: .init(
            address: .hostname(config.server.host, port: config.server.port), serverName: "sluice",
            // Past the cap, connections wait in the listen backlog rather than take descriptors.
            availableConnectionsDelegate: MaximumAvailableConnections(server.maxConnections, logger: logger)),
        services: services,
        onServerRunning: { channel in
            let port = channel.localAddress?.port ?? 0
            listener.listening(on: port)
            await onServerRunning(port)
        },
        logger: logger)
}

/// The verifier of an identity provider's tokens, when `auth.external.issuer` is set.
func externalTokens(_ settings: SluiceConfig.ExternalIdentity, http: UpstreamHTTPClient) throws -> ExternalTokens? {
    guard settings.enabled else { return nil }
    guard !settings.audience.isEmpty else { throw StartupError("auth.external.issuer is set but auth.external.audience is not") }
    return ExternalTokens(settings: settings, http: http)
}

/// Where users' files are kept: `files.directory` (by default beside the SQLite database), or an
/// S3 bucket, created at start when `files.s3.create_bucket` says so.
func fileStorage(_ config: SluiceConfig, http: UpstreamHTTPClient) async throws -> any FileStorage {
    let files = config.files
    switch files.storage {
    case .local:
        let directory = files.directory.isEmpty
            ? URL(fileURLWithPath: config.database.path).deletingLastPathComponent().appendingPathComponent("files").path : files.directory
        return LocalFileStorage(root: directory)
    case .s3:
        let s3 = files.s3
        let storage = try S3FileStorage(
            endpoint: s3.endpoint, bucket: s3.bucket,
            signer: AWSSignatureV4(accessKeyID: s3.accessKeyID, secretAccessKey: s3.secretAccessKey, region: s3.region), http: http,
            maxObjectBytes: files.maxFileBytes)
        if s3.createBucket {
            do { try await storage.createBucketIfMissing() } catch { throw StartupError("files.s3: the bucket cannot be created: \(error)") }
        }
        return storage
    }
}

/// The payment routes, when Stripe is configured.
func paymentRoutes(_ config: SluiceConfig, api: APIServices, http: UpstreamHTTPClient, logger: Logger) throws -> PaymentRoutes? {
    let stripe = config.payments.stripe
    guard stripe.enabled else { return nil }
    guard !stripe.webhookSecrets.isEmpty else { throw StartupError("payments.stripe.secret_key is set but payments.stripe.webhook_secret is not") }
    let logger = logger.with(label: "payments")
    let home = config.server.baseURL + "/"
    return PaymentRoutes(
        api: api, stripe: stripe, client: StripeClient(http: http, base: stripe.apiBase, secretKey: stripe.secretKey, logger: logger),
        webhook: StripeWebhook(store: api.store, credits: api.credits, grants: api.grants, stripe: stripe, logger: logger),
        successURL: stripe.successURL.isEmpty ? home + "?checkout=success" : stripe.successURL,
        cancelURL: stripe.cancelURL.isEmpty ? home + "?checkout=cancelled" : stripe.cancelURL)
}

func accessTokens(_ auth: SluiceConfig.Auth, logger: Logger) async -> AccessTokens {
    var secret = auth.jwtSecret
    if secret.isEmpty {
        logger.warning("auth.jwt_secret is not set: sign-ins end when this process stops, and other instances cannot read its tokens")
        secret = AccessTokens.ephemeralSecret()
    }
    return await AccessTokens(
        secret: secret, issuer: auth.jwtIssuer, audience: auth.jwtAudience, lifetime: .seconds(auth.accessTokenTTLSeconds))
}

/// The smallest request a model accepts (`GatewayRequest.probe`), in the account's own wire
/// protocol. It uses a little of the account's own quota and is billed to no one.
func verificationProbe(http: UpstreamHTTPClient, catalog: ProviderCatalog) -> AccountPool.Prober {
    { account, model in
        guard let probe = GatewayRequest.probe(model: model),
              let call = try? catalog.adapter(for: account.manifest).upstreamRequest(for: probe, to: account.target)
        else { return .stillFailing }
        do {
            let response = try await http.execute(
                call.method, url: call.url, headers: call.headers, body: call.body, headTimeout: .seconds(30), proxy: account.proxy)
            _ = try? await response.body.collect(upTo: 1 << 20)
            switch response.status {
            case 200..<300: return .ok
            case 401: return .rejectedCredential
            default: return .stillFailing
            }
        } catch {
            return .stillFailing
        }
    }
}

/// Where `relative` (such as `Providers`) is, for the CLI; see `ResourceLocator`.
/// Finds `Providers/` and `Migrations/` when the config does not name them: in the working
/// directory, else beside the executable or in one of its parent directories (a build tree).
enum ResourceLocator {
    static func find(_ relative: String, configured: String) -> String? {
        let fm = FileManager.default
        if !configured.isEmpty { return fm.fileExists(atPath: configured) ? configured : nil }
        var candidates = [fm.currentDirectoryPath]
        var dir = URL(fileURLWithPath: CommandLine.arguments.first ?? ".").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(dir.path)
            dir.deleteLastPathComponent()
        }
        return candidates.map { ($0 as NSString).appendingPathComponent(relative) }.first { fm.fileExists(atPath: $0) }
    }
}

extension Logger {
    func with(label: String) -> Logger {
        var copy = self
        copy[metadataKey: "component"] = "\(label)"
        return copy
    }
}
