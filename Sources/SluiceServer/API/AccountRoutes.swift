import Foundation
import Hummingbird
import SluiceCore
import SluiceProviders
import SluiceStore

/// `/api/accounts`: the upstream accounts a user contributes, and `/api/quotas`: what they may
/// still draw from the shared pool. Admins see every account under `/api/admin/accounts`.
struct AccountRoutes {
    let api: APIServices

    struct NewAccount: Decodable {
        var provider: String
        var kind: String?
        var secret: String
        var models: [String]?
        var priority: Int?
        var weight: Int?
        var shareMode: String?
        var reservePercent: Int?
        var maxConcurrency: Int?
        /// `proxy_url`; spelled so for the decoder's snake-case conversion.
        var proxyUrl: String?
    }

    struct Change: Decodable {
        var secret: String?
        var models: [String]?
        var priority: Int?
        var weight: Int?
        var enabled: Bool?
        var shareMode: String?
        var reservePercent: Int?
        /// 0 removes the cap.
        var maxConcurrency: Int?
        /// Empty removes the proxy.
        var proxyUrl: String?
    }

    static let newFields: Set<String> = [
        "provider", "kind", "secret", "models", "priority", "weight", "share_mode", "reserve_percent", "max_concurrency", "proxy_url",
    ]
    static let changeFields: Set<String> = [
        "secret", "models", "priority", "weight", "enabled", "share_mode", "reserve_percent", "max_concurrency", "proxy_url",
    ]
    /// Accounts one user may contribute.
    static let maxAccountsPerUser = 50

    /// What `validate(_:current:offered:)` accepts of the settings an owner may change.
    static let settingsSchema: [(String, Schema)] = [
        ("priority", .nullable(.boundedInteger(-1000...1000))), ("weight", .nullable(.boundedInteger(1...1000))),
        ("share_mode", .nullable(.string(values: ShareMode.allCases.map(\.rawValue)))), ("reserve_percent", .nullable(.boundedInteger(0...100))),
        ("max_concurrency", .nullable(.boundedInteger(0...10_000))),
    ]
    static let secretSchema = Schema.string(length: 1...maxSecretCharacters)
    static let changeSchema = Schema.object(
        [
            ("secret", .nullable(secretSchema)), ("enabled", .nullable(.boolean)), ("models", .nullable(.array(.text))),
            ("proxy_url", .nullable(proxySchema)),
        ] + settingsSchema, closed: true)
    /// `http://[user:password@]host:port`, as `UpstreamProxy` reads it, or empty for none.
    static let proxySchema: Schema = {
        let credentials = "([A-Za-z0-9._~-]+(:[A-Za-z0-9._~-]*)?@)?"
        let label = "[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?"
        let port = "([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
        return .string(pattern: "^(|http://\(credentials)\(label)(\\.\(label))*:\(port))$")
    }()
    static let maxSecretCharacters = 16 << 10

    /// A new account of each provider: its models are the provider's, and `oauth` is a kind only
    /// where the provider has a token endpoint.
    func newAccountSchema() -> Schema {
        .anyOf(api.catalog.providers.values.sorted { $0.id < $1.id }.map { manifest in
            let kinds = AccountKind.allCases.filter { $0 != .oauth || manifest.oauth != nil }.map(\.rawValue)
            return .object(
                [
                    ("provider", .string(values: [manifest.id])), ("kind", .nullable(.string(values: kinds))), ("secret", Self.secretSchema),
                    ("models", .nullable(.array(.string(values: manifest.models.map(\.id))))), ("proxy_url", .nullable(Self.proxySchema)),
                ] + Self.settingsSchema,
                required: ["provider", "secret"], closed: true)
        })
    }

    func register(on registry: EndpointRegistry) {
        let account = Schema.ref("Account")
        registry.user(
            Endpoint(
                method: .get, path: "/api/accounts", summary: "Your upstream accounts and their live state (never their secrets).",
                response: .object([("data", .array(account))]), tag: "accounts"), list)
        registry.user(
            Endpoint(
                method: .post, path: "/api/accounts",
                summary: """
                    Contribute an upstream account. `share_mode: surplus` lends it to others above `reserve_percent` of its quota. \
                    `proxy_url` (http://[user:password@]host:port) sends every call through that HTTP CONNECT proxy, never around it. \
                    An `oauth` account's `secret` is JSON with `access_token`, `refresh_token` and optionally `expires_at`.
                    """,
                request: newAccountSchema(), status: 201, response: account, errors: [409], tag: "accounts"), create)
        registry.user(
            Endpoint(
                method: .patch, path: "/api/accounts/{id}",
                summary: """
                    Change your account; a new `secret` also clears needs re-auth, an empty `proxy_url` removes the proxy. `models` \
                    are the account's provider's; an `oauth` account's `secret` is its tokens' JSON.
                    """,
                request: Self.changeSchema,
                response: account, tag: "accounts"),
            update)
        registry.user(
            Endpoint(method: .delete, path: "/api/accounts/{id}", summary: "Remove your account.", status: 204, tag: "accounts"),
            remove)
        registry.user(
            Endpoint(
                method: .get, path: "/api/quotas", summary: "Your shared-pool allowance per model group, and when it refills.",
                response: .object([("contributor", .boolean), ("trust_level", .integer), ("data", .array(.ref("Quota")))]),
                tag: "accounts"), quotas)
    }

    @Sendable func list(_ request: Request, context: UserContext) async throws -> Response {
        try views(try await api.store.accounts(ownerUserID: context.user.id))
    }

    @Sendable func create(_ request: Request, context: UserContext) async throws -> Response {
        try await create(request, owner: context.user.id, context: context)
    }

    @Sendable func update(_ request: Request, context: UserContext) async throws -> Response {
        try await update(request, owner: context.user.id, accountID: try APIServices.id(context), context: context)
    }

    @Sendable func remove(_ request: Request, context: UserContext) async throws -> Response {
        try await remove(owner: context.user.id, accountID: try APIServices.id(context), context: context)
    }

    /// Adds an account owned by `owner`: the signed-in user, or a team's wallet.
    func create(_ request: Request, owner: Int64, context: UserContext) async throws -> Response {
        let (body, _) = try await APIJSON.body(NewAccount.self, from: request, allowing: Self.newFields)
        guard let manifest = api.catalog[body.provider] else {
            throw GatewayError.invalidRequest("Unknown provider `\(body.provider)`.", param: "provider")
        }
        guard let kind = AccountKind(rawValue: body.kind ?? AccountKind.apiKey.rawValue) else {
            throw GatewayError.invalidRequest("`kind` must be one of \(AccountKind.allCases.map(\.rawValue).joined(separator: ", ")).", param: "kind")
        }
        let change = Change(
            secret: body.secret, models: body.models, priority: body.priority, weight: body.weight, shareMode: body.shareMode,
            reservePercent: body.reservePercent, maxConcurrency: body.maxConcurrency)
        let update = try Self.validate(change, current: AccountSharing(), offered: Set(manifest.models.map(\.id)))
        try Self.validate(secret: body.secret, of: kind, at: manifest)
        let proxy = try body.proxyUrl.flatMap { $0.isEmpty ? nil : try sealedProxy($0) }
        guard try await api.store.accounts(ownerUserID: owner).count < Self.maxAccountsPerUser else {
            throw GatewayError.conflict("You have \(Self.maxAccountsPerUser) accounts, the most allowed. Remove one first.")
        }
        let id = try await api.store.addAccount(
            provider: manifest.id, kind: kind, baseURL: nil, models: update.models ?? [], priority: update.priority ?? 0,
            weight: update.weight ?? 1, ownerUserID: owner, sharing: update.sharing ?? AccountSharing(),
            secret: try api.secrets.seal(body.secret), proxy: proxy)
        try await api.pool.reload()
        await api.log("account_added", user: owner, actor: context.user.id, context: context, detail: "account \(id) \(manifest.id)")
        return try await view(id, status: .created)
    }

    func update(_ request: Request, owner: Int64, accountID: Int64, context: UserContext) async throws -> Response {
        let record = try await account(accountID, ownedBy: owner)
        let (body, _) = try await APIJSON.body(Change.self, from: request, allowing: Self.changeFields)
        let offered = Set(api.catalog[record.provider]?.models.map(\.id) ?? [])
        var update = try Self.validate(body, current: record.sharing, offered: offered)
        if let secret = body.secret { try Self.validate(secret: secret, of: record.kind, at: api.catalog[record.provider]) }
        if let url = body.proxyUrl { update.proxy = url.isEmpty ? .remove : .set(try sealedProxy(url)) }
        _ = try await api.store.updateAccount(id: record.id, update)
        if let secret = body.secret { try await api.store.updateAccountSecret(id: record.id, try api.secrets.seal(secret)) }
        try await api.pool.reload()
        await api.log("account_changed", user: owner, actor: context.user.id, context: context, detail: "account \(record.id)")
        return try await view(record.id)
    }

    func remove(owner: Int64, accountID: Int64, context: UserContext) async throws -> Response {
        let record = try await account(accountID, ownedBy: owner)
        try await api.store.removeAccount(id: record.id)
        try await api.pool.reload()
        await api.pool.reset(record.id)
        await api.log("account_removed", user: owner, actor: context.user.id, context: context, detail: "account \(record.id)")
        return APIJSON.noContent()
    }

    @Sendable func quotas(_ request: Request, context: UserContext) async throws -> Response {
        let user = context.user
        struct Quota: Encodable {
            var group: String
            var models: [String]
            var unit: String
            var capacity: Int
            var available: Int
            var recoveryPerHour: Int
            /// When the allowance is full again; null when it is full.
            var refillsAt: Date?
            /// When requests may use the shared pool again; null while they may.
            var usableAt: Date?
        }
        struct Quotas: Encodable {
            var contributor: Bool
            /// Each level raises the plan's allowance by `accounts.trust_bonus_percent_per_level`.
            var trustLevel: Int
            var data: [Quota]
        }
        let now = Date()
        let terms = api.allowance.terms(userID: user.id, plan: user.plan, trustLevel: user.trustLevel)
        var data: [Quota] = []
        if let terms {
            for (group, models) in api.pool.sharedGroups().sorted(by: { $0.key < $1.key }) {
                let budget: RecoveringBudget
                do { budget = try await api.allowance.allowances.budget(userID: user.id, group: group, terms: terms, now: now.timeIntervalSince1970) } catch {
                    throw GatewayError.dependencyUnavailable("The gateway cannot reach its shared-pool allowances right now.")
                }
                func at(_ seconds: Double) -> Date? { seconds > 0 && seconds.isFinite ? now.addingTimeInterval(seconds.rounded(.up)) : nil }
                data.append(
                    Quota(
                        group: group, models: models.sorted(), unit: terms.unit.rawValue, capacity: terms.capacity,
                        available: max(0, Int(budget.level.rounded(.down))), recoveryPerHour: terms.perHour,
                        refillsAt: at(budget.secondsUntilFull()), usableAt: at(budget.secondsUntilUsable())))
            }
        }
        return try APIJSON.response(Quotas(contributor: api.pool.isContributor(user.id), trustLevel: user.trustLevel, data: data))
    }

    /// The account if `owner` owns it; another owner's account answers like a missing one.
    private func account(_ id: Int64, ownedBy owner: Int64) async throws -> AccountRecord {
        guard let record = try await api.store.account(id: id), record.ownerUserID == owner else {
            throw GatewayError.notFound("No such account.")
        }
        return record
    }

    func view(_ id: Int64, status: HTTPResponse.Status = .ok) async throws -> Response {
        guard let record = try await api.store.account(id: id) else { throw GatewayError.notFound("No such account.") }
        return try APIJSON.response(AccountView(record, live: api.pool.liveState(id), proxy: proxyAddress(record)), status: status)
    }

    func views(_ records: [AccountRecord]) throws -> Response {
        try APIJSON.response(AccountList(data: records.map { AccountView($0, live: api.pool.liveState($0.id), proxy: proxyAddress($0)) }))
    }

    /// A proxy URL checked and sealed, like a secret: it may hold the proxy's password.
    func sealedProxy(_ url: String) throws -> SealedSecret {
        do { _ = try UpstreamProxy(url: url) } catch { throw GatewayError.invalidRequest("\(error)", param: "proxy_url") }
        return try api.secrets.seal(url)
    }

    /// Where the account's proxy is, without its credentials.
    func proxyAddress(_ record: AccountRecord) -> String? {
        guard let sealed = record.proxy else { return nil }
        return (try? UpstreamProxy(url: api.secrets.open(sealed)))?.address ?? "unreadable"
    }

    /// An OAuth account needs a provider with a token endpoint and a secret holding its tokens.
    static func validate(secret: String, of kind: AccountKind, at manifest: ProviderManifest?) throws {
        guard kind == .oauth else { return }
        switch OAuthAccountProblem.check(secret: secret, at: manifest) {
        case .noTokenEndpoint:
            throw GatewayError.invalidRequest("This provider has no OAuth token endpoint; use kind api-key or cookie.", param: "kind")
        case .notTokens:
            throw GatewayError.invalidRequest(
                "For an oauth account, `secret` is JSON with `access_token`, `refresh_token` and optionally `expires_at` (Unix seconds).",
                param: "secret")
        case nil: return
        }
    }

    /// Checks a change and turns it into a store update. `offered`: the provider's models.
    static func validate(_ change: Change, current: AccountSharing, offered: Set<String>) throws -> AccountUpdate {
        // Counted in Unicode scalars, as JSON Schema's `maxLength` counts, so the document states the rule.
        if let secret = change.secret, secret.isEmpty || secret.unicodeScalars.count > maxSecretCharacters {
            throw GatewayError.invalidRequest("`secret` must be 1 to \(maxSecretCharacters) characters.", param: "secret")
        }
        if let unknown = change.models?.first(where: { !offered.contains($0) }) {
            throw GatewayError.invalidRequest("The provider has no model `\(unknown)`.", param: "models")
        }
        if let priority = change.priority, !(-1000...1000).contains(priority) {
            throw GatewayError.invalidRequest("`priority` must be between -1000 and 1000.", param: "priority")
        }
        if let weight = change.weight, !(1...1000).contains(weight) {
            throw GatewayError.invalidRequest("`weight` must be between 1 and 1000.", param: "weight")
        }
        var sharing = current
        if let mode = change.shareMode {
            guard let parsed = ShareMode(rawValue: mode) else {
                throw GatewayError.invalidRequest("`share_mode` must be private or surplus.", param: "share_mode")
            }
            sharing.shareMode = parsed
        }
        if let reserve = change.reservePercent {
            guard (0...100).contains(reserve) else { throw GatewayError.invalidRequest("`reserve_percent` must be 0 to 100.", param: "reserve_percent") }
            sharing.reservePercent = reserve
        }
        if let cap = change.maxConcurrency {
            guard (0...10_000).contains(cap) else {
                throw GatewayError.invalidRequest("`max_concurrency` must be 0 (no cap) to 10000.", param: "max_concurrency")
            }
            sharing.maxConcurrency = cap == 0 ? nil : cap
        }
        let sharingChanged = change.shareMode != nil || change.reservePercent != nil || change.maxConcurrency != nil
        return AccountUpdate(
            models: change.models, priority: change.priority, weight: change.weight, enabled: change.enabled,
            sharing: sharingChanged ? sharing : nil)
    }
}

/// `/api/admin/accounts`: every account's state, reset, and enabling or disabling.
struct AdminAccountRoutes {
    let api: APIServices

    static let changeFields: Set<String> = ["models", "priority", "weight", "enabled", "share_mode", "reserve_percent", "max_concurrency"]

    func register(on registry: EndpointRegistry) {
        let account = Schema.ref("Account")
        registry.admin(
            Endpoint(
                method: .get, path: "/api/admin/accounts",
                summary: "Every upstream account: state per scope, cooling-until, headroom, in flight, error rate, last error.",
                query: [("state", .string(values: AccountView.states), "Only accounts in this state.")],
                response: .object([("data", .array(account))]), tag: "admin"), list)
        registry.admin(
            Endpoint(
                method: .patch, path: "/api/admin/accounts/{id}",
                summary: "Enable, disable or re-weigh an account. `models` are the account's provider's.",
                request: .object(
                    [("enabled", .nullable(.boolean)), ("models", .nullable(.array(.text)))] + AccountRoutes.settingsSchema, closed: true),
                response: account, tag: "admin"), update)
        registry.admin(
            Endpoint(
                method: .post, path: "/api/admin/accounts/{id}/reset",
                summary: "Clear an account's cooldowns, backoff and figures. Needs re-auth stays until its secret changes.",
                response: account, tag: "admin"), reset)
    }

    @Sendable func list(_ request: Request, context: AdminContext) async throws -> Response {
        let wanted = request.uri.queryParameters.get("state")
        let views = try await api.store.accounts(ownerUserID: nil).map { AccountView($0, live: api.pool.liveState($0.id)) }
        return try APIJSON.response(AccountList(data: wanted.map { wanted in views.filter { $0.state == wanted } } ?? views))
    }

    @Sendable func update(_ request: Request, context: AdminContext) async throws -> Response {
        let admin = context.admin
        let id = try APIServices.id(context)
        guard let record = try await api.store.account(id: id) else { throw GatewayError.notFound("No such account.") }
        let (body, _) = try await APIJSON.body(AccountRoutes.Change.self, from: request, allowing: Self.changeFields)
        let update = try AccountRoutes.validate(body, current: record.sharing, offered: Set(api.catalog[record.provider]?.models.map(\.id) ?? []))
        _ = try await api.store.updateAccount(id: id, update)
        try await api.pool.reload()
        await api.log("account_changed", user: record.ownerUserID ?? admin.id, actor: admin.id, context: context, detail: "account \(id)")
        return try await AccountRoutes(api: api).view(id)
    }

    @Sendable func reset(_ request: Request, context: AdminContext) async throws -> Response {
        let admin = context.admin
        let id = try APIServices.id(context)
        guard let record = try await api.store.account(id: id) else { throw GatewayError.notFound("No such account.") }
        await api.pool.reset(id)
        await api.log("account_reset", user: record.ownerUserID ?? admin.id, actor: admin.id, context: context, detail: "account \(id)")
        return try await AccountRoutes(api: api).view(id)
    }
}
