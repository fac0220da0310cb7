import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// `POST /api/auth/password`: a signed-in user changes their password. The current one is
/// checked (and counted by the sign-in throttle, like any password guess) when the account has
/// one; an account made by SSO may set its first. Every other sign-in ends, since whoever held
/// the old password may hold one of them; this one stays.
struct PasswordRoutes {
    let api: APIServices

    func register(on registry: EndpointRegistry) {
        registry.user(
            Endpoint(
                method: .post, path: "/api/auth/password",
                summary: "Change your password (8 characters to 72 bytes). `current_password` is required when the account has one; every other sign-in ends.",
                request: .object(
                    [
                        ("current_password", .nullable(.string(length: 1...PasswordHasher.maxBytes))),
                        ("new_password", .string(length: PasswordHasher.minCharacters...PasswordHasher.maxBytes)),
                    ], required: ["new_password"], closed: true),
                status: 204, errors: [403, 429, 503], tag: "auth"), change)
    }

    struct Change: Decodable {
        var currentPassword: String?
        var newPassword: String
    }

    @Sendable func change(_ request: Request, context: UserContext) async throws -> Response {
        let user = context.user
        let (body, _) = try await APIJSON.body(Change.self, from: request, allowing: ["current_password", "new_password"])
        try PasswordHasher.validate(body.newPassword)
        if let hash = try await api.store.passwordHash(userID: user.id) {
            try await api.admitSignIn(account: user.email, context: context)
            guard let current = body.currentPassword, try await api.hasher.verify(current, against: hash) else {
                await api.throttle.recordFailure(account: user.email, now: Date().timeIntervalSince1970)
                await api.log("password_change_failed", user: user.id, actor: user.id, context: context)
                // 403, not 401: the sign-in stands, only this change is refused.
                throw GatewayError(
                    status: 403, type: "permission_error", code: "invalid_password", param: "current_password",
                    message: "The current password is not right.", shouldRetry: false)
            }
        }
        try await api.store.setPasswordHash(userID: user.id, try await api.hasher.hash(body.newPassword))
        let now = Date()
        for signIn in try await api.store.liveSignIns(userID: user.id, now: now) where signIn.familyID != context.signedIn.sessionID {
            _ = try await api.store.endSignIn(familyID: signIn.familyID, userID: user.id, at: now)
        }
        await api.log("password_changed", user: user.id, actor: user.id, context: context, detail: "other sign-ins ended")
        return APIJSON.noContent()
    }
}
