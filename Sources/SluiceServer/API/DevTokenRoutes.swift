import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// `POST /api/auth/dev-token`: a session for any address, made on first use, so a frontend can
/// be developed against a local gateway without an identity provider or a password. Registered
/// only when `environment` is `development`, and it answers only callers on this host: anyone
/// who can reach it can be anyone.
struct DevTokenRoutes {
    let api: APIServices

    func register(on registry: EndpointRegistry) {
        registry.anyone(
            Endpoint(
                method: .post, path: "/api/auth/dev-token",
                summary: """
                    Development only, from loopback only: a session (as `/api/auth/login`) for the user with `email`, made (verified, \
                    no password) if there is none. Not served when `environment` is `production`.
                    """,
                request: .object([("email", AuthRoutes.emailSchema)], required: ["email"], closed: true), response: AuthRoutes.sessionSchema, errors: [403],
                tag: "auth"), issue)
    }

    static func isLoopback(_ address: String?) -> Bool {
        guard let address else { return false }
        return address == "::1" || address.hasPrefix("127.") || address.hasPrefix("::ffff:127.")
    }

    @Sendable func issue(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        guard Self.isLoopback(context.remoteAddress) else {
            throw GatewayError(
                status: 403, type: "permission_error", code: "loopback_only", message: "The development token helper answers only this host.",
                shouldRetry: false)
        }
        struct Body: Decodable { var email: String }
        let (body, _) = try await APIJSON.body(Body.self, from: request, allowing: ["email"])
        let email = body.email.trimmingCharacters(in: .whitespaces)
        guard AuthRoutes.looksLikeEmail(email) else { throw GatewayError.invalidRequest("`email` is not an email address.", param: "email") }
        var user = try await api.store.user(email: email)
        if user == nil {
            do {
                let id = try await api.store.createUser(NewUser(email: email))
                try await api.store.markEmailVerified(userID: id, at: Date())
                if let made = try await api.store.user(id: id) { try await api.grants.grant(made) }
                await api.log("registered", user: id, actor: id, context: context, detail: "development token helper")
            } catch is StoreConflict {}
            user = try await api.store.user(email: email)
        }
        guard let user else { throw GatewayError.internalError() }
        if user.status == .disabled { throw GatewayError.userDisabled }
        await api.log("login", user: user.id, actor: user.id, context: context, detail: "development token helper")
        let session = try await AuthRoutes(api: api).startSession(user: user, request: request, context: context)
        return try APIJSON.response(session)
    }
}
