import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// `/api/auth`: register, sign in, refresh, sign out, and who am I.
struct AuthRoutes {
    let api: APIServices

    struct Credentials: Decodable {
        var email: String
        var password: String
        /// The second factor, for accounts that use one: a TOTP code or a recovery code.
        var otp: String?
    }

    struct RefreshRequest: Decodable {
        var refreshToken: String
    }

    struct Session: Encodable {
        var accessToken: String
        var tokenType = "Bearer"
        var expiresIn: Int
        var refreshToken: String
        var user: UserView
    }

    static let userSchema = Schema.ref("User")
    static let sessionSchema = Schema.object([
        ("access_token", .text), ("token_type", .text), ("expires_in", .integer), ("refresh_token", .text), ("user", userSchema),
    ])
    /// Signing in takes any strings: a wrong pair is a 401, not a 400.
    static let credentialsSchema = Schema.object(
        [("email", .text), ("password", .text), ("otp", .nullable(.text))], required: ["email", "password"], closed: true)
    /// An address as `looksLikeEmail` accepts it.
    static let emailSchema = Schema.string(format: "email", length: 3...254, pattern: #"^[^@\s]+@[^@\s]*\.[^@\s]*$"#)
    /// Registering checks both (`looksLikeEmail`, `PasswordHasher.validate`). The password's limit
    /// is bcrypt's, 72 bytes of UTF-8, which JSON Schema cannot count; `maxLength` is the most
    /// characters it can be, and the description says the rest.
    static let registrationSchema = Schema.object(
        [
            ("email", emailSchema),
            ("password", .string(length: PasswordHasher.minCharacters...PasswordHasher.maxBytes)),
        ], required: ["email", "password"], closed: true)

    func register(on registry: EndpointRegistry) {
        registry.anyone(
            Endpoint(
                method: .post, path: "/api/auth/register",
                summary: "Create an account with email and password (8 characters to 72 bytes of UTF-8). 403 when registration is closed.",
                request: Self.registrationSchema, status: 201, response: Self.userSchema, errors: [403, 409, 429, 503], tag: "auth"),
            registerUser)
        registry.anyone(
            Endpoint(
                method: .post, path: "/api/auth/login", summary: "Sign in: an access token and a single-use refresh token.",
                request: Self.credentialsSchema, response: Self.sessionSchema, errors: [401, 403, 429, 503], tag: "auth"), login)
        registry.anyone(
            Endpoint(
                method: .post, path: "/api/auth/refresh",
                summary: "Trade a refresh token for new tokens. A reused refresh token revokes its whole sign-in.",
                request: .object([("refresh_token", .text)], required: ["refresh_token"], closed: true), response: Self.sessionSchema,
                errors: [401], tag: "auth"),
            refresh)
        registry.user(
            Endpoint(
                method: .post, path: "/api/auth/logout", summary: "Sign out: revoke every token of this sign-in.",
                status: 204, tag: "auth"), logout)
        registry.user(
            Endpoint(method: .get, path: "/api/auth/me", summary: "The signed-in user.", response: Self.userSchema, tag: "auth"),
            { _, context in try APIJSON.response(UserView(context.user)) })
        registry.user(
            Endpoint(
                method: .patch, path: "/api/auth/me",
                summary: "Change your own settings: only `pool_preference` (which accounts your requests try first).",
                request: .object([("pool_preference", .nullable(.string(values: PoolPreference.allCases.map(\.rawValue))))], closed: true),
                response: Self.userSchema, tag: "auth"), updateMe)
    }

    @Sendable func updateMe(_ request: Request, context: UserContext) async throws -> Response {
        let user = context.user
        struct Settings: Decodable { var poolPreference: PoolPreference? }
        let (body, _) = try await APIJSON.body(Settings.self, from: request, allowing: ["pool_preference"])
        guard let updated = try await api.store.updateUser(id: user.id, UserUpdate(poolPreference: body.poolPreference)) else {
            throw GatewayError.invalidToken
        }
        if let preference = body.poolPreference, preference != user.poolPreference {
            await api.log("pool_preference_changed", user: user.id, actor: user.id, context: context, detail: preference.rawValue)
        }
        return try APIJSON.response(UserView(updated))
    }

    @Sendable func registerUser(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        guard api.auth.allowRegistration else {
            throw GatewayError.registrationClosed
        }
        let (body, _) = try await APIJSON.body(Credentials.self, from: request, allowing: ["email", "password"])
        let email = body.email.trimmingCharacters(in: .whitespaces)
        guard Self.looksLikeEmail(email) else { throw GatewayError.invalidRequest("`email` is not an email address.", param: "email") }
        try PasswordHasher.validate(body.password)
        try await admitSignIn(account: email, context: context)
        let hash = try await api.hasher.hash(body.password)
        let id: Int64
        do { id = try await api.store.createUser(NewUser(email: email, passwordHash: hash)) } catch is StoreConflict {
            throw GatewayError.conflict("An account with this email exists.", param: "email")
        }
        guard let user = try await api.store.user(id: id) else { throw GatewayError.internalError() }
        try await api.grants.grant(user)
        await api.log("registered", user: id, actor: id, context: context)
        if let mailer = api.mailer, mailer.settings.verification != .off {
            try await EmailRoutes(api: api, mailer: mailer).sendVerification(to: user)
        }
        return try APIJSON.response(UserView(try await api.store.user(id: id) ?? user), status: .created)
    }

    @Sendable func login(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        let (body, _) = try await APIJSON.body(Credentials.self, from: request, allowing: ["email", "password", "otp"])
        let user = try await checkCredentials(body, context: context)
        return try APIJSON.response(try await startSession(user: user, request: request, context: context))
    }

    /// The user whose email, password and (when they use it) second factor these are; every
    /// refusal is counted by the sign-in throttle and logged. Password sign-ins of programs and
    /// of the dashboard both pass here.
    func checkCredentials(_ body: Credentials, context: SluiceRequestContext) async throws -> UserRecord {
        try await admitSignIn(account: body.email, context: context)
        guard let user = try await api.store.user(email: body.email), let hash = try await api.store.passwordHash(userID: user.id) else {
            try await api.hasher.verifyNothing(body.password)
            await api.throttle.recordFailure(account: body.email, now: Date().timeIntervalSince1970)
            throw GatewayError.invalidCredentials
        }
        guard try await api.hasher.verify(body.password, against: hash) else {
            await api.throttle.recordFailure(account: body.email, now: Date().timeIntervalSince1970)
            await api.log("login_failed", user: user.id, actor: nil, context: context)
            throw GatewayError.invalidCredentials
        }
        if user.status == .disabled { throw GatewayError.userDisabled }
        if user.emailVerifiedAt == nil, api.mailer?.settings.verification == .required { throw GatewayError.emailNotVerified }
        if let totp = try await api.store.totp(userID: user.id), totp.enabled {
            guard let otp = body.otp, !otp.isEmpty else { throw GatewayError.twoFactorRequired }
            guard try await TwoFactorCheck(store: api.store, secrets: api.secrets).accept(otp, for: totp) else {
                await api.throttle.recordFailure(account: body.email, now: Date().timeIntervalSince1970)
                await api.log("login_failed", user: user.id, actor: nil, context: context, detail: "wrong two-factor code")
                throw GatewayError.invalidTwoFactorCode
            }
        }
        await api.log("login", user: user.id, actor: user.id, context: context)
        return user
    }

    @Sendable func refresh(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        let (body, _) = try await APIJSON.body(RefreshRequest.self, from: request, allowing: ["refresh_token"])
        return try APIJSON.response(try await rotate(refreshToken: body.refreshToken, context: context))
    }

    /// New tokens for a refresh token, which is spent; a spent one revokes its whole sign-in.
    func rotate(refreshToken: String, context: SluiceRequestContext) async throws -> Session {
        let next = AccessTokens.makeRefreshToken()
        let rotation = try await api.store.rotateRefreshToken(
            tokenHash: KeyAuthenticator.hash(refreshToken), successorHash: next.hash, expiresAt: refreshExpiry(), now: Date())
        switch rotation {
        case .invalid:
            throw GatewayError.invalidToken
        case .reused(let userID, _):
            await api.log("refresh_token_reused", user: userID, actor: nil, context: context, detail: "every token of this sign-in was revoked")
            throw GatewayError.invalidToken
        case .rotated(let userID, let familyID):
            guard let user = try await api.store.user(id: userID), user.status != .disabled else { throw GatewayError.invalidToken }
            try await api.store.touchSignIn(familyID: familyID, address: context.remoteAddress, at: Date())
            return try await session(user: user, familyID: familyID, refreshToken: next.token)
        }
    }

    @Sendable func logout(_ request: Request, context: UserContext) async throws -> Response {
        let user = context.user
        try await api.store.revokeSession(familyID: context.signedIn.sessionID)
        await api.log("logout", user: user.id, actor: user.id, context: context)
        return APIJSON.noContent()
    }

    /// A new sign-in (refresh-token family) for `user`, recorded with its device and address.
    func startSession(user: UserRecord, request: Request, context: SluiceRequestContext) async throws -> Session {
        let familyID = AccessTokens.randomToken(bytes: 16)
        let refresh = AccessTokens.makeRefreshToken()
        try await api.store.storeRefreshToken(userID: user.id, familyID: familyID, tokenHash: refresh.hash, expiresAt: refreshExpiry())
        let now = Date()
        try await api.store.recordSignIn(SignInRecord(
            familyID: familyID, userID: user.id, device: SignInRecord.device(userAgent: request.headers[.userAgent]), address: context.remoteAddress,
            createdAt: now, lastUsedAt: now))
        return try await session(user: user, familyID: familyID, refreshToken: refresh.token)
    }

    private func session(user: UserRecord, familyID: String, refreshToken: String) async throws -> Session {
        Session(
            accessToken: try await api.tokens.sign(userID: user.id, sessionID: familyID), expiresIn: api.auth.accessTokenTTLSeconds,
            refreshToken: refreshToken, user: UserView(user))
    }

    private func admitSignIn(account: String, context: SluiceRequestContext) async throws {
        try await api.admitSignIn(account: account, context: context)
    }

    private func refreshExpiry() -> Date { Date().addingTimeInterval(Double(api.auth.refreshTokenTTLDays) * 86_400) }

    /// A team wallet's placeholder address is never a person's: no one registers, signs in by
    /// token or SSO, or moves their account to one.
    static func looksLikeEmail(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        return text.count <= 254 && parts.count == 2 && !parts[0].isEmpty && parts[1].contains(".") && !text.contains(where: \.isWhitespace)
            && !text.lowercased().hasSuffix(TeamWallet.emailDomain)
    }
}
