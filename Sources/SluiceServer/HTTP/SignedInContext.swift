import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// What every context of this server offers a handler: the request id and the peer.
protocol SluiceContext: RequestContext {
    var requestID: String { get }
    var remoteAddress: String? { get }
}

extension SluiceRequestContext: SluiceContext {}

/// The user behind a request's access token, and the sign-in (refresh-token family) it belongs to.
struct SignedIn: Sendable {
    let user: UserRecord
    let sessionID: String
    /// An admin who must use two-factor sign-in (`auth.require_admin_two_factor`) and does not yet.
    var twoFactorMissing = false
}

/// Signs in the request's `Authorization: Bearer <access token>` for the routes behind it, or,
/// without one, the dashboard's access cookie (`BrowserSession`), which must come with the CSRF
/// token for anything that changes state; else refuses it with 401. Status and role are read
/// now, not taken from the token, so a ban or demotion applies to tokens already issued.
struct SignInMiddleware: RouterMiddleware {
    typealias Context = SluiceRequestContext
    let tokens: AccessTokens
    let store: any GatewayStore
    /// Notes each sign-in's last use, at most once a minute.
    let use: SignInUse
    /// An identity provider whose tokens sign in the user with their subject as external id.
    let external: ExternalTokens?
    let requireAdminTwoFactor: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let token: String
        if let cookie = BrowserSession.accessToken(request) {
            try BrowserSession.checkCSRF(request)
            token = cookie
        } else {
            guard let bearer = KeyAuthenticator.bearerToken(request.headers[.authorization]) else { throw GatewayError.invalidToken }
            token = bearer
        }
        if let external, ExternalTokens.isExternal(token) { return try await signInExternally(token, external, request: request, context: context, next: next) }
        let (user, sessionID) = try await Self.user(signedInBy: token, tokens: tokens, store: store)
        let now = Date()
        // A lost write only makes "last used" older; it must not fail the request.
        if use.shouldNote(sessionID, now: now) { try? await store.touchSignIn(familyID: sessionID, address: context.remoteAddress, at: now) }
        var context = context
        context.signedIn = SignedIn(user: user, sessionID: sessionID, twoFactorMissing: try await twoFactorMissing(user))
        return try await next(request, context)
    }

    /// The user an access token signs in, and its sign-in: the token valid, its sign-in not ended,
    /// the user not disabled. The dashboard's admin page asks the same.
    static func user(signedInBy token: String, tokens: AccessTokens, store: any GatewayStore) async throws -> (UserRecord, sessionID: String) {
        let (userID, sessionID) = try await tokens.verify(token)
        guard try await store.sessionIsLive(familyID: sessionID), let user = try await store.user(id: userID) else {
            throw GatewayError.invalidToken
        }
        if user.status == .disabled { throw GatewayError.userDisabled }
        return (user, sessionID)
    }

    /// Read only for admins, and only when they are required to use it.
    private func twoFactorMissing(_ user: UserRecord) async throws -> Bool {
        guard requireAdminTwoFactor, user.role == .admin else { return false }
        return try await store.totp(userID: user.id)?.enabled != true
    }

    /// An identity provider's token: no Sluice sign-in stands behind it, so it has no session to
    /// list or end; it lasts as long as the provider made it.
    private func signInExternally(
        _ token: String, _ external: ExternalTokens, request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        let claims = try await external.verify(token)
        guard let user = try await store.user(externalID: claims.sub.value) else { throw GatewayError.invalidToken }
        if user.status == .disabled { throw GatewayError.userDisabled }
        var context = context
        context.signedIn = SignedIn(user: user, sessionID: "", twoFactorMissing: try await twoFactorMissing(user))
        return try await next(request, context)
    }
}

/// The context of a route for signed-in users. It exists only behind `SignInMiddleware`, so a
/// handler that takes it cannot run for a request that is not signed in.
struct UserContext: ChildRequestContext, SluiceContext {
    var coreContext: CoreRequestContextStorage
    let signedIn: SignedIn
    private let parent: SluiceRequestContext

    init(context: SluiceRequestContext) throws {
        guard let signedIn = context.signedIn else { throw GatewayError.invalidToken }
        self.coreContext = context.coreContext
        self.signedIn = signedIn
        self.parent = context
    }

    var user: UserRecord { signedIn.user }
    var requestID: String { parent.requestID }
    var remoteAddress: String? { parent.remoteAddress }
}

/// The context of an admin route: a signed-in user whose role is admin, else 403.
struct AdminContext: ChildRequestContext, SluiceContext {
    var coreContext: CoreRequestContextStorage
    let admin: UserRecord
    private let parent: SluiceRequestContext

    init(context: SluiceRequestContext) throws {
        guard let signedIn = context.signedIn else { throw GatewayError.invalidToken }
        guard signedIn.user.role == .admin else { throw GatewayError.adminOnly }
        guard !signedIn.twoFactorMissing else { throw GatewayError.twoFactorEnrollmentRequired }
        self.coreContext = context.coreContext
        self.admin = signedIn.user
        self.parent = context
    }

    var requestID: String { parent.requestID }
    var remoteAddress: String? { parent.remoteAddress }
}
