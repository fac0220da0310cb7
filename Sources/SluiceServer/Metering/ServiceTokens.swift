import Foundation
import Hummingbird
import SluiceCore
import SluiceStore
import Synchronization

/// The service behind a request's token.
struct ServiceCaller: Sendable {
    let token: ServiceTokenRecord
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

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let bearer = KeyAuthenticator.bearerToken(request.headers[.authorization]) else { throw GatewayError.invalidServiceToken }
        var context = context
        context.service = try await tokens.caller(bearer: bearer)
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

    var serviceID: Int64 { caller.token.serviceAccountID }
    var requestID: String { parent.requestID }
    var remoteAddress: String? { parent.remoteAddress }
}
