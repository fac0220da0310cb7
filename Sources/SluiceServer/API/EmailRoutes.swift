import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// Mail-backed account routes: verify an address, reset a forgotten password, change the
/// address. Registered only when `email.smtp_host` is set. Routes that take an address answer
/// the same whether or not an account has it, and send nothing for an unknown one.
struct EmailRoutes {
    let api: APIServices
    let mailer: Mailer

    private var tokens: OneTimeTokens { OneTimeTokens(store: api.store) }
    private var settings: SluiceConfig.Email { mailer.settings }

    struct Queued: Encodable { var status = "queued" }
    static let queuedSchema = Schema.object([("status", .string(values: ["queued"]))])
    static let addressSchema = Schema.object([("email", .text)], required: ["email"], closed: true)
    static let tokenQuery: [(String, Schema, String)] = [("token", .text, "The token from the mailed link.")]

    func register(on registry: EndpointRegistry) {
        registry.anyone(
            Endpoint(
                method: .post, path: "/api/auth/email/resend",
                summary: "Send the verification mail again. 202 whether or not an unverified account has this address.",
                request: Self.addressSchema, status: 202, response: Self.queuedSchema, errors: [429, 503], tag: "auth"), resend)
        registry.anyone(
            Endpoint(
                method: .get, path: "/api/auth/email/verify", summary: "The verification mail's link: marks the address verified.",
                query: Self.tokenQuery, response: AuthRoutes.userSchema, tag: "auth"), verify)
        registry.anyone(
            Endpoint(
                method: .post, path: "/api/auth/password/forgot",
                summary: "Mail a single-use link for choosing a new password. 202 whether or not an account has this address.",
                request: Self.addressSchema, status: 202, response: Self.queuedSchema, errors: [429, 503], tag: "auth"), forgot)
        registry.anyone(
            Endpoint(
                method: .get, path: "/api/auth/password/reset", summary: "The reset mail's link: whether its token still works, without using it.",
                query: Self.tokenQuery, response: .object([("valid", .boolean)]), tag: "auth"), checkReset)
        registry.anyone(
            Endpoint(
                method: .post, path: "/api/auth/password/reset",
                summary: "Choose a new password with the reset token. Ends every sign-in of the account.",
                request: .object([("token", .text), ("password", .text)], required: ["token", "password"], closed: true), status: 204, tag: "auth"),
            reset)
        registry.user(
            Endpoint(
                method: .post, path: "/api/auth/email/change",
                summary: "Move the account to a new address: a link goes to it, a notice to the old one. `password` is required when the account has one.",
                request: .object([("email", AuthRoutes.emailSchema), ("password", .nullable(.text))], required: ["email"], closed: true), status: 202,
                response: Self.queuedSchema, errors: [409, 429], tag: "auth"), change)
        registry.anyone(
            Endpoint(
                method: .get, path: "/api/auth/email/change/confirm", summary: "The change mail's link: the account takes the new address.",
                query: Self.tokenQuery, response: AuthRoutes.userSchema, errors: [409], tag: "auth"), confirmChange)
    }

    /// Sends the verification mail; used on register and by resend.
    func sendVerification(to user: UserRecord) async throws {
        let ttl = settings.verifyTTLHours
        let secret = try await tokens.issue(.verifyEmail, userID: user.id, ttl: TimeInterval(ttl) * 3600)
        await mailer.send(MailTemplates.verification(to: user.email, link: mailer.link("/api/auth/email/verify", token: secret), ttlHours: ttl))
    }

    struct Address: Decodable { var email: String }

    @Sendable func resend(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        let (body, _) = try await APIJSON.body(Address.self, from: request, allowing: ["email"])
        try await api.admitSignIn(account: "mail:" + body.email.lowercased(), context: context, refusal: "Too many mails asked for. Try again later.")
        if let user = try await api.store.user(email: body.email), user.emailVerifiedAt == nil, user.status != .disabled {
            try await sendVerification(to: user)
        }
        return try APIJSON.response(Queued(), status: .accepted)
    }

    @Sendable func verify(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        let (token, _) = try await tokens.spend(request.uri.queryParameters["token"].map(String.init), .verifyEmail, as: NoPayload.self)
        guard let userID = token.userID else { throw GatewayError.invalidLink }
        try await api.store.markEmailVerified(userID: userID, at: Date())
        guard let user = try await api.store.user(id: userID) else { throw GatewayError.invalidLink }
        await api.log("email_verified", user: userID, actor: userID, context: context)
        return try APIJSON.response(UserView(user))
    }

    @Sendable func forgot(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        let (body, _) = try await APIJSON.body(Address.self, from: request, allowing: ["email"])
        try await api.admitSignIn(account: "mail:" + body.email.lowercased(), context: context, refusal: "Too many mails asked for. Try again later.")
        if let user = try await api.store.user(email: body.email), user.status != .disabled {
            let ttl = settings.resetTTLMinutes
            let secret = try await tokens.issue(.resetPassword, userID: user.id, ttl: TimeInterval(ttl) * 60)
            await mailer.send(MailTemplates.passwordReset(to: user.email, link: mailer.link("/api/auth/password/reset", token: secret), ttlMinutes: ttl))
            await api.log("password_reset_requested", user: user.id, actor: nil, context: context)
        }
        return try APIJSON.response(Queued(), status: .accepted)
    }

    @Sendable func checkReset(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        _ = try await tokens.peek(request.uri.queryParameters["token"].map(String.init), .resetPassword)
        return try APIJSON.response(["valid": true])
    }

    @Sendable func reset(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        struct Body: Decodable { var token: String; var password: String }
        let (body, _) = try await APIJSON.body(Body.self, from: request, allowing: ["token", "password"])
        // Checked before the token is spent, so a password that is too short does not cost the link.
        try PasswordHasher.validate(body.password)
        _ = try await tokens.peek(body.token, .resetPassword)
        let hash = try await api.hasher.hash(body.password)
        let (token, _) = try await tokens.spend(body.token, .resetPassword, as: NoPayload.self)
        guard let userID = token.userID else { throw GatewayError.invalidLink }
        let now = Date()
        try await api.store.setPasswordHash(userID: userID, hash)
        try await api.store.spendOneTimeTokens(userID: userID, purpose: .resetPassword, now: now)
        // The mail reached its owner: the address is theirs.
        try await api.store.markEmailVerified(userID: userID, at: now)
        try await api.store.revokeAllSessions(userID: userID)
        await api.log("password_reset", user: userID, actor: userID, context: context, detail: "every sign-in ended")
        return APIJSON.noContent()
    }

    struct NewAddress: Codable { var email: String }

    @Sendable func change(_ request: Request, context: UserContext) async throws -> Response {
        struct Body: Decodable { var email: String; var password: String? }
        let (body, _) = try await APIJSON.body(Body.self, from: request, allowing: ["email", "password"])
        let user = context.user
        let email = body.email.trimmingCharacters(in: .whitespaces)
        guard AuthRoutes.looksLikeEmail(email) else { throw GatewayError.invalidRequest("`email` is not an email address.", param: "email") }
        try await api.admitSignIn(account: "mail:\(user.id)", context: context, refusal: "Too many changes asked for. Try again later.")
        if let hash = try await api.store.passwordHash(userID: user.id) {
            guard let password = body.password, try await api.hasher.verify(password, against: hash) else { throw GatewayError.invalidCredentials }
        }
        if let other = try await api.store.user(email: email), other.id != user.id { throw GatewayError.conflict("Another user has this email.", param: "email") }
        let ttl = settings.verifyTTLHours
        let secret = try await tokens.issue(.changeEmail, userID: user.id, payload: NewAddress(email: email), ttl: TimeInterval(ttl) * 3600)
        await mailer.send(MailTemplates.emailChange(to: email, link: mailer.link("/api/auth/email/change/confirm", token: secret), ttlHours: ttl))
        await mailer.send(MailTemplates.emailChangeNotice(to: user.email, newAddress: email))
        await api.log("email_change_requested", user: user.id, actor: user.id, context: context)
        return try APIJSON.response(Queued(), status: .accepted)
    }

    @Sendable func confirmChange(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        let (token, payload) = try await tokens.spend(request.uri.queryParameters["token"].map(String.init), .changeEmail, as: NewAddress.self)
        guard let userID = token.userID else { throw GatewayError.invalidLink }
        do { try await api.store.changeEmail(userID: userID, to: payload.email, at: Date()) } catch is StoreConflict {
            throw GatewayError.conflict("Another user took this email in the meantime.", param: "email")
        }
        guard let user = try await api.store.user(id: userID) else { throw GatewayError.invalidLink }
        await api.log("email_changed", user: userID, actor: userID, context: context)
        return try APIJSON.response(UserView(user))
    }
}
