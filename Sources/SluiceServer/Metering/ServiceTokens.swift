import Foundation
import Hummingbird
import SluiceCore
import SluiceStore
import Synchronization

/// Who calls the metering API: a service, by a token with the scopes an admin gave it; or a
/// user's own API key, which reads that user alone (`users:read`), so an agent holding a key
/// (over MCP, say) can see its user's balance and usage and move nothing.
struct ServiceCaller: Sendable {
    let scopes: Set<ServiceScope>
    /// The service account, for a service token; its id scopes idempotency references.
    let serviceAccountID: Int64?
    /// The one user a key may name; nil for a service token, which may name any.
    let ownUser: Int64?

    init(token: ServiceTokenRecord) {
        scopes = Set(token.scopes)
        serviceAccountID = token.serviceAccountID
        ownUser = nil
    }

    init(key: APIKeyRecord) {
        scopes = [.usersRead]
        serviceAccountID = nil
        ownUser = key.userID
    }
}

/// Finds the service token of `Authorization: Bearer sst-…`, refusing unknown, revoked and expired
/// tokens with one 401, and records each token's last use at most once a minute.
final class ServiceTokenAuthenticator: Sendable {
    static let prefix = "sst-"

    private let store: any GatewayStore
    private let lastTouched = Mutex([Int64: Date]())
    private let touchEvery: TimeInterval = 60

    init(store: any GatewayStore) { self.store = store }

    func caller(bearer token: String, now: Date = Date()) async throws -> ServiceCaller {
        guard token.hasPrefix(Self.prefix), let record = try await store.serviceToken(hash: KeyAuthenticator.hash(token)), record.isLive(at: now)
        else { throw GatewayError.invalidServiceToken }
        let due = lastTouched.withLock { touched in
            guard now.timeIntervalSince(touched[record.id] ?? .distantPast) >= touchEvery else { return false }
            touched[record.id] = now
            return true
        }
        // Last use is for people reading the list: a failed write does not fail the call.
        if due { try? await store.touchServiceToken(id: record.id, at: now) }
        return ServiceCaller(token: record)
    }

    /// A new token: shown once, kept only as its hash.
    static func make() -> (token: String, hash: String, prefix: String) {
        let token = prefix + AccessTokens.randomToken(bytes: 24)
        return (token, KeyAuthenticator.hash(token), String(token.prefix(12)))
    }
}

struct ServiceTokenMiddleware: RouterMiddleware {
    typealias Context = SluiceRequestContext
    let tokens: ServiceTokenAuthenticator
    /// Sluice API keys, which read their own user.
    let keys: KeyAuthenticator

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let bearer = KeyAuthenticator.bearerToken(request.headers[.authorization]) else { throw GatewayError.invalidServiceToken }
        var context = context
        if bearer.hasPrefix(ServiceTokenAuthenticator.prefix) {
            context.service = try await tokens.caller(bearer: bearer)
        } else {
            do { context.service = ServiceCaller(key: try await keys.authenticate(authorization: request.headers[.authorization])) } catch {
                // One 401 for every credential this API does not know; a disabled user's key is still 403.
                guard error.status == 401 else { throw error }
                throw GatewayError.invalidServiceToken
            }
        }
        return try await next(request, context)
    }
}

/// The context of a metering route: a live service token. Its scope is checked by the route
/// (`EndpointRegistry.service`).
struct ServiceContext: ChildRequestContext, SluiceContext {
    var coreContext: CoreRequestContextStorage
    let caller: ServiceCaller
    private let parent: SluiceRequestContext

    init(context: SluiceRequestContext) throws {
        guard let caller = context.service else { throw GatewayError.invalidServiceToken }
        self.coreContext = context.coreContext
        self.caller = caller
        self.parent = context
    }

    /// The calling service's account. Only routes that write ask, and their scopes are a
    /// service token's alone; a key reaching one is refused as missing that scope.
    func serviceID(for scope: ServiceScope) throws -> Int64 {
        guard let id = caller.serviceAccountID else { throw GatewayError.missingScope(scope.rawValue) }
        return id
    }
    var requestID: String { parent.requestID }
    var remoteAddress: String? { parent.remoteAddress }
}
