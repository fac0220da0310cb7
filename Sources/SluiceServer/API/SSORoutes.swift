import Foundation
import HTTPTypes
import Hummingbird
import SluiceCore
import SluiceStore

/// `/api/auth/sso`: sign in with an SSO provider (authorization code with PKCE; `state` single
/// use and expiring), link one to the signed-in account, and list or remove the linked ones.
/// Registered only for the providers whose `client_id` is set.
///
/// Who the callback signs in: the user the provider's account is linked to; else the user with
/// the provider's address, linked now, only when the provider says it verified the address; else
/// a new user (when registration is open) with that address, or with `<provider>-<id>@sso.invalid`
/// when the provider does not vouch for one. An unverified address that an account already has
/// is refused: its owner signs in and links instead.
struct SSORoutes {
    let api: APIServices
    let providers: [String: SSOProvider]

    private var tokens: OneTimeTokens { OneTimeTokens(store: api.store) }

    func register(on registry: EndpointRegistry) {
        let names = providers.keys.sorted()
        let provider = Schema.string(values: names)
        registry.anyone(
            Endpoint(
                method: .get, path: "/api/auth/sso/providers", summary: "The SSO providers this gateway signs in with.",
                response: .object([("data", .array(.text))]), tag: "auth"),
            { _, _ in try APIJSON.response(["data": names]) })
        registry.anyone(
            Endpoint(
                method: .get, path: "/api/auth/sso/{provider}/initiate",
                summary: """
                    Start a sign-in: 302 to the provider. With `Accept: application/json`, 200 with the URL instead, for pages that \
                    navigate themselves.
                    """,
                pathSchema: provider, status: 302, errors: [502], alsoAnswersWithResponse: [200], tag: "auth"), initiate)
        registry.anyone(
            Endpoint(
                method: .get, path: "/api/auth/sso/{provider}/callback",
                summary: """
                    Where the provider sends the browser back. Answers a session (as `/api/auth/login`), or, for an account with \
                    two-factor sign-in, `two_factor_required` and a `ticket` for `/api/auth/sso/two-factor`, or, after `link`, the \
                    linked account.
                    """,
                query: [("code", .text, "From the provider."), ("state", .text, "From initiate, through the provider."),
                        ("error", .text, "From the provider when the user said no.")],
                pathSchema: provider, response: .object([("access_token", .text), ("two_factor_required", .boolean), ("ticket", .text)]),
                errors: [401, 403, 409, 502], tag: "auth"), callback)
        registry.anyone(
            Endpoint(
                method: .post, path: "/api/auth/sso/two-factor", summary: "Finish an SSO sign-in with the second factor.",
                request: .object([("ticket", .text), ("otp", .text)], required: ["ticket", "otp"], closed: true), response: AuthRoutes.sessionSchema,
                errors: [401, 429], tag: "auth"), twoFactor)
        registry.user(
            Endpoint(
                method: .post, path: "/api/auth/sso/{provider}/link",
                summary: "Start linking a provider's account to yours: the URL to send the browser to; its callback links.",
                pathSchema: provider, response: .object([("authorization_url", .text)]), errors: [502], tag: "auth"), link)
        registry.user(
            Endpoint(
                method: .get, path: "/api/auth/identities", summary: "The provider accounts linked to yours.",
                response: .object([("data", .array(.object([("provider", .text), ("email", .nullable(.text)), ("created_at", .time)])))]), tag: "auth"),
            identities)
        registry.user(
            Endpoint(
                method: .delete, path: "/api/auth/identities/{provider}",
                summary: "Unlink a provider. 409 when it is the account's only way in (no password and no other provider).",
                pathSchema: provider, status: 204, errors: [409], tag: "auth"), unlink)
    }

    private func provider(_ context: some RequestContext) throws -> SSOProvider {
        guard let name = context.parameters.get("provider"), let provider = providers[name] else { throw GatewayError.notFound("No such SSO provider.") }
        return provider
    }

    /// The state payload: the attempt, and for linking, the user (also the token's `user_id`).
    struct State: Codable { var attempt: SSOAttempt }

    private func begin(_ provider: SSOProvider, linking userID: Int64?) async throws -> String {
        let attempt = SSOAttempt.new(provider: provider.name)
        let state = try await tokens.issue(.ssoState, userID: userID, payload: State(attempt: attempt), ttl: TimeInterval(api.auth.sso.stateTTLSeconds))
        do { return try await provider.authorizationURL(state: state, attempt: attempt) } catch { throw Self.error(error) }
    }

    @Sendable func initiate(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        let url = try await begin(try provider(context), linking: nil)
        if request.headers[.accept]?.contains("application/json") == true { return try APIJSON.response(["authorization_url": url]) }
        return Response(status: .found, headers: [.location: url, .cacheControl: "no-store"])
    }

    @Sendable func link(_ request: Request, context: UserContext) async throws -> Response {
        try APIJSON.response(["authorization_url": try await begin(try provider(context), linking: context.user.id)])
    }

    @Sendable func callback(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        let provider = try provider(context)
        let query = request.uri.queryParameters
        // Spent first, whatever follows: a state works once, even for a sign-in that fails.
        let (token, state) = try await tokens.spend(query["state"].map(String.init), .ssoState, as: State.self)
        guard state.attempt.provider == provider.name else { throw GatewayError.invalidLink }
        if let refusal = query["error"] {
            throw GatewayError(status: 403, type: "permission_error", code: "sso_refused", message: "The provider did not sign you in (\(refusal.prefix(64))).", shouldRetry: false)
        }
        guard let code = query["code"], !code.isEmpty else { throw GatewayError.invalidRequest("The callback has no `code`.", param: "code") }
        let profile: SSOProfile
        do { profile = try await provider.profile(code: String(code), attempt: state.attempt) } catch { throw Self.error(error) }
        let minimum = provider.settings.minTrustLevel
        if minimum > 0, (profile.trustLevel ?? 0) < minimum {
            throw GatewayError(
                status: 403, type: "permission_error", code: "trust_level_too_low",
                message: "This gateway wants trust level \(minimum) or more at \(provider.name).", shouldRetry: false)
        }
        if let userID = token.userID { return try await linkIdentity(profile, provider: provider.name, to: userID, context: context) }
        var user = try await resolveUser(profile, provider: provider.name, context: context)
        if user.status == .disabled { throw GatewayError.userDisabled }
        if let level = profile.trustLevel, level != user.trustLevel {
            user = try await api.store.updateUser(id: user.id, UserUpdate(trustLevel: level)) ?? user
        }
        if let totp = try await api.store.totp(userID: user.id), totp.enabled {
            struct Pending: Encodable { var twoFactorRequired = true; var ticket: String; var expiresIn = 300 }
            let ticket = try await tokens.issue(.twoFactorTicket, userID: user.id, payload: ["provider": provider.name], ttl: 300)
            return try APIJSON.response(Pending(ticket: ticket))
        }
        await api.log("login", user: user.id, actor: user.id, context: context, detail: "sso:\(provider.name)")
        return try await session(for: user, request: request, context: context)
    }

    @Sendable func twoFactor(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        struct Body: Decodable { var ticket: String; var otp: String }
        let (body, _) = try await APIJSON.body(Body.self, from: request, allowing: ["ticket", "otp"])
        let pending = try await tokens.peek(body.ticket, .twoFactorTicket)
        guard let userID = pending.userID, let user = try await api.store.user(id: userID), user.status != .disabled,
              let totp = try await api.store.totp(userID: userID), totp.enabled
        else { throw GatewayError.invalidLink }
        try await api.admitSignIn(account: TwoFactorRoutes.throttleKey(user), context: context, refusal: "Too many two-factor attempts. Try again later.")
        guard try await TwoFactorCheck(store: api.store, secrets: api.secrets).accept(body.otp, for: totp) else {
            await api.throttle.recordFailure(account: TwoFactorRoutes.throttleKey(user), now: Date().timeIntervalSince1970)
            throw GatewayError.invalidTwoFactorCode
        }
        _ = try await tokens.spend(body.ticket, .twoFactorTicket, as: [String: String].self)
        await api.log("login", user: user.id, actor: user.id, context: context, detail: "sso with two-factor")
        return try await session(for: user, request: request, context: context)
    }

    @Sendable func identities(_ request: Request, context: UserContext) async throws -> Response {
        struct View: Encodable { var provider: String; var email: String?; var createdAt: Date }
        let linked = try await api.store.identities(userID: context.user.id)
        return try APIJSON.response(["data": linked.map { View(provider: $0.provider, email: $0.email, createdAt: $0.createdAt) }])
    }

    @Sendable func unlink(_ request: Request, context: UserContext) async throws -> Response {
        let name = try provider(context).name
        let user = context.user
        let linked = try await api.store.identities(userID: user.id)
        guard linked.contains(where: { $0.provider == name }) else { throw GatewayError.notFound("No such linked provider.") }
        if linked.count == 1, try await api.store.passwordHash(userID: user.id) == nil {
            throw GatewayError.conflict("This is the account's only way in: set a password (POST /api/auth/password/forgot) or link another provider first.")
        }
        _ = try await api.store.unlinkIdentity(provider: name, userID: user.id)
        await api.log("sso_unlinked", user: user.id, actor: user.id, context: context, detail: name)
        return APIJSON.noContent()
    }

    // MARK: Accounts

    private func resolveUser(_ profile: SSOProfile, provider: String, context: SluiceRequestContext) async throws -> UserRecord {
        if let known = try await api.store.identity(provider: provider, subject: profile.subject), let user = try await api.store.user(id: known.userID) {
            return user
        }
        let identity = UserIdentity(provider: provider, subject: profile.subject, userID: 0, email: profile.email, createdAt: Date())
        if let email = profile.email, AuthRoutes.looksLikeEmail(email), let existing = try await api.store.user(email: email) {
            guard profile.emailVerified else {
                throw GatewayError.conflict(
                    "An account has this email, and \(provider) does not say it verified it: sign in to that account and link \(provider) from it.",
                    param: "email")
            }
            return try await linkIdentity(identity, to: existing, context: context)
        }
        guard api.auth.allowRegistration else {
            throw GatewayError.registrationClosed
        }
        let verified = profile.emailVerified && profile.email.map(AuthRoutes.looksLikeEmail) == true
        let email = verified ? profile.email! : "\(provider)-\(profile.subject)@sso.invalid"
        let id: Int64
        do { id = try await api.store.createUser(NewUser(email: email), emailVerified: verified, identity: identity) } catch is StoreConflict {
            // Another callback for the same person won the race: sign in to what it made.
            if let known = try await api.store.identity(provider: provider, subject: profile.subject), let user = try await api.store.user(id: known.userID) {
                return user
            }
            throw GatewayError.conflict("An account with this email exists.", param: "email")
        }
        guard let user = try await api.store.user(id: id) else { throw GatewayError.internalError() }
        try await api.grants.grant(user)
        await api.log("registered", user: id, actor: id, context: context, detail: "sso:\(provider)")
        return try await api.store.user(id: id) ?? user
    }

    /// Links a provider account, vouched-for address and all, to an existing user.
    private func linkIdentity(_ identity: UserIdentity, to user: UserRecord, context: some SluiceContext) async throws -> UserRecord {
        var linked = identity
        linked.userID = user.id
        do { try await api.store.linkIdentity(linked) } catch is StoreConflict {}
        try await api.store.markEmailVerified(userID: user.id, at: Date())
        await api.log("sso_linked", user: user.id, actor: user.id, context: context, detail: identity.provider)
        return try await api.store.user(id: user.id) ?? user
    }

    /// The callback of `link`: the provider account joins the user who started it.
    private func linkIdentity(_ profile: SSOProfile, provider: String, to userID: Int64, context: SluiceRequestContext) async throws -> Response {
        guard let user = try await api.store.user(id: userID), user.status != .disabled else { throw GatewayError.invalidLink }
        if let known = try await api.store.identity(provider: provider, subject: profile.subject), known.userID != userID {
            throw GatewayError.conflict("This \(provider) account is linked to another user.")
        }
        do {
            try await api.store.linkIdentity(UserIdentity(provider: provider, subject: profile.subject, userID: userID, email: profile.email, createdAt: Date()))
        } catch is StoreConflict {}
        await api.log("sso_linked", user: userID, actor: userID, context: context, detail: provider)
        struct Linked: Encodable { var linked: String; var user: UserView }
        return try APIJSON.response(Linked(linked: provider, user: UserView(user)))
    }

    private func session(for user: UserRecord, request: Request, context: SluiceRequestContext) async throws -> Response {
        let session = try await AuthRoutes(api: api).startSession(user: user, request: request, context: context)
        return try APIJSON.response(session)
    }

    static func error(_ failure: SSOProvider.Failure) -> GatewayError {
        switch failure {
        case .refused(let why):
            GatewayError(status: 401, type: "invalid_request_error", code: "sso_failed", message: "The SSO sign-in failed: \(why).", shouldRetry: false)
        case .unavailable:
            GatewayError(
                status: 502, type: "api_error", code: "sso_provider_unavailable", message: "The SSO provider could not be reached. Try again.",
                shouldRetry: true)
        }
    }
}
