import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// `/api/api-keys`: a user's own API keys.
struct APIKeyRoutes {
    let api: APIServices
    /// Models that exist, to refuse a typo in `allowed_models` when the key is made.
    let knownModels: @Sendable () -> Set<String>

    struct NewKey: Decodable {
        var name: String?
        var allowedModels: [String]?
        var expiresAt: Date?
        var rpmLimit: Int?
        var tpmLimit: Int?
        var spendLimit: CreditAmount?
        var ipAllowlist: [String]?
        var recordConversations: Bool?
    }

    static let fields: Set<String> = ["name", "allowed_models", "expires_at", "rpm_limit", "tpm_limit", "spend_limit", "ip_allowlist", "record_conversations"]
    /// Keys one user may hold at once.
    static let maxKeysPerUser = 100

    static let keySchema = Schema.ref("APIKey")
    static let newKeySchema = Schema.object(
        [
            ("name", .nullable(.string(length: 0...100))), ("allowed_models", .nullable(.array(.text))),
            ("expires_at", .nullable(.time)), ("rpm_limit", .nullable(.positiveInteger)), ("tpm_limit", .nullable(.positiveInteger)),
            ("spend_limit", .nullable(.creditsInput(.positive))), ("ip_allowlist", .nullable(.array(.ipNetwork))),
            ("record_conversations", .nullable(.boolean)),
        ], closed: true)

    func register(on registry: EndpointRegistry) {
        registry.user(
            Endpoint(
                method: .get, path: "/api/api-keys", summary: "Your API keys (never the keys themselves).",
                response: .object([("data", .array(Self.keySchema))]), tag: "api-keys"), list)
        // `allowed_models` must name models the pool serves, and `expires_at` must be in the future:
        // both depend on when the request comes, which a schema cannot say; the summary does.
        registry.user(
            Endpoint(
                method: .post, path: "/api/api-keys",
                summary: """
                    Create an API key. The key is in this answer and never again. `allowed_models` are models the gateway serves; \
                    `expires_at` is in the future.
                    """,
                request: Self.newKeySchema,
                status: 201, response: Self.keySchema, errors: [409], tag: "api-keys"), create)
        registry.user(
            Endpoint(
                method: .delete, path: "/api/api-keys/{id}", summary: "Revoke an API key; it is refused within a second.",
                status: 204, tag: "api-keys"), revoke)
    }

    @Sendable func list(_ request: Request, context: UserContext) async throws -> Response {
        let user = context.user
        struct List: Encodable { var data: [APIKeyView] }
        return try APIJSON.response(List(data: try await api.store.apiKeys(userID: user.id).map { APIKeyView($0) }))
    }

    @Sendable func create(_ request: Request, context: UserContext) async throws -> Response {
        let user = context.user
        let (body, _) = try await APIJSON.body(NewKey.self, from: request, allowing: Self.fields)
        let limits = try validate(body)
        guard try await api.store.apiKeys(userID: user.id).count < Self.maxKeysPerUser else {
            throw GatewayError.conflict("You have \(Self.maxKeysPerUser) keys, the most allowed. Revoke one first.")
        }
        let name = body.name ?? ""
        let issued = try await APIKeyIssuer.issue(store: api.store, userID: user.id, name: name, limits: limits)
        guard let record = try await api.store.apiKeys(userID: user.id).first(where: { $0.id == issued.id }) else {
            throw GatewayError.internalError()
        }
        await api.log("key_created", user: user.id, actor: user.id, context: context, detail: "key \(issued.id) \(issued.prefix)")
        return try APIJSON.response(APIKeyView(record, key: issued.key), status: .created)
    }

    @Sendable func revoke(_ request: Request, context: UserContext) async throws -> Response {
        let user = context.user
        let id = try APIServices.id(context)
        // Another user's key answers exactly like a key that does not exist.
        guard let hash = try await api.store.revokeAPIKey(id: id, userID: user.id) else { throw GatewayError.notFound("No such API key.") }
        api.keyCache.forget(hash: hash)
        await api.log("key_revoked", user: user.id, actor: user.id, context: context, detail: "key \(id)")
        return APIJSON.noContent()
    }

    func validate(_ body: NewKey) throws -> APIKeyLimits {
        if let name = body.name, name.count > 100 { throw GatewayError.invalidRequest("`name` must be at most 100 characters.", param: "name") }
        if let models = body.allowedModels {
            let known = knownModels()
            if let unknown = models.first(where: { !known.contains($0) }) {
                throw GatewayError.invalidRequest("Unknown model `\(unknown)` in `allowed_models`.", param: "allowed_models")
            }
        }
        if let expiry = body.expiresAt, expiry <= Date() {
            throw GatewayError.invalidRequest("`expires_at` must be in the future.", param: "expires_at")
        }
        for (name, value) in [("rpm_limit", body.rpmLimit), ("tpm_limit", body.tpmLimit)] {
            if let value, value < 1 { throw GatewayError.invalidRequest("`\(name)` must be a positive integer.", param: name) }
        }
        if let limit = body.spendLimit, limit.credits <= .zero {
            throw GatewayError.invalidRequest("`spend_limit` must be positive.", param: "spend_limit")
        }
        let networks = try body.ipAllowlist.map { list in
            try list.map { text in
                guard let network = IPNetwork(text) else {
                    throw GatewayError.invalidRequest("`\(text)` in `ip_allowlist` is not an address or CIDR network.", param: "ip_allowlist")
                }
                return network
            }
        }
        return APIKeyLimits(
            allowedModels: body.allowedModels, expiresAt: body.expiresAt, requestsPerMinute: body.rpmLimit, tokensPerMinute: body.tpmLimit,
            spendLimit: body.spendLimit?.credits, ipAllowlist: networks, recordConversations: body.recordConversations ?? false)
    }
}
