import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// `POST /api/users/ensure`: the user behind an identity provider's token, made on first sight.
/// Registered only when `auth.external.issuer` is set.
struct ExternalIdentityRoutes {
    let api: APIServices
    let verifier: ExternalTokens

    func register(on registry: EndpointRegistry) {
        registry.anyone(
            Endpoint(
                method: .post, path: "/api/users/ensure",
                summary: """
                    With `Authorization: Bearer <token from auth.external.issuer>`: the user whose external id is the token's \
                    subject, made from its `email` (and `name`) the first time (201), found after (200). Then that token signs in to \
                    the user routes too.
                    """,
                response: AuthRoutes.userSchema, errors: [401, 409], tag: "auth"),
            ensure)
    }

    @Sendable func ensure(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        guard let token = KeyAuthenticator.bearerToken(request.headers[.authorization]), ExternalTokens.isExternal(token) else {
            throw GatewayError.invalidToken
        }
        let claims = try await verifier.verify(token)
        let subject = claims.sub.value
        if let user = try await api.store.user(externalID: subject) {
            if user.status == .disabled { throw GatewayError.userDisabled }
            return try APIJSON.response(UserView(user))
        }
        guard let email = claims.email?.trimmingCharacters(in: .whitespaces), email.contains("@"), email.count <= 320 else {
            throw GatewayError.invalidRequest("The token has no `email` claim to make the user with.", param: "email")
        }
        do {
            let (user, created) = try await api.store.ensureUser(externalID: subject, email: email, name: claims.name)
            if created {
                try await api.grants.grant(user)
                await api.log("registered", user: user.id, actor: user.id, context: context, detail: "external identity")
            }
            return try APIJSON.response(UserView(user), status: created ? .created : .ok)
        } catch is StoreConflict {
            // An account with this email exists under another identity: linking is the user's choice, not the token's.
            throw GatewayError.conflict("Another user has this email.", param: "email")
        }
    }
}
