import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// Checks a second factor: a TOTP code, or one of the recovery codes. Either is used up by the
/// store as it passes, so a code cannot be replayed, not even on another instance.
struct TwoFactorCheck {
    let store: any GatewayStore
    let secrets: SecretBox

    func accept(_ code: String, for record: TOTPRecord, now: Date = Date()) async throws -> Bool {
        let code = code.trimmingCharacters(in: .whitespaces)
        if TOTP.looksLikeCode(code) {
            guard let step = TOTP.matchingStep(code, secret: try secrets.open(record.secret), now: now) else { return false }
            return try await store.useTOTPStep(userID: record.userID, step: step)
        }
        return try await store.useRecoveryCode(userID: record.userID, hash: RecoveryCodes.hash(code), at: now)
    }
}

/// Ten single-use codes for when the authenticator is lost, shown once and kept as SHA-256.
enum RecoveryCodes {
    static let count = 10

    static func make() -> [String] {
        (0..<count).map { _ in
            let raw = AccessTokens.randomToken(bytes: 8).lowercased().filter { $0.isLetter || $0.isNumber }
            let code = String(raw.prefix(10))
            return code.prefix(5) + "-" + code.dropFirst(5)
        }
    }

    /// Case, spaces and dashes do not matter when a code is typed back.
    static func hash(_ code: String) -> String {
        KeyAuthenticator.hash(code.lowercased().filter { $0.isLetter || $0.isNumber })
    }
}

/// Turning two-factor sign-in on and off. A wrong code counts against the sign-in throttle, so
/// six digits cannot be guessed through these routes either.
struct TwoFactorRoutes {
    let api: APIServices
    var check: TwoFactorCheck { TwoFactorCheck(store: api.store, secrets: api.secrets) }

    static let codeRequest = Schema.object([("code", .nonEmptyText)], required: ["code"], closed: true)

    func register(on registry: EndpointRegistry) {
        registry.user(
            Endpoint(
                method: .post, path: "/api/auth/2fa/setup",
                summary: "Start two-factor sign-in: a new TOTP secret and its otpauth:// URI, pending until `enable` confirms a code.",
                response: .object([("secret", .text), ("otpauth_uri", .text)]), errors: [409], tag: "auth"), setup)
        registry.user(
            Endpoint(
                method: .post, path: "/api/auth/2fa/enable",
                summary: "Confirm the pending secret with a code from the app: two-factor is on, and ten recovery codes are shown, once.",
                request: Self.codeRequest, response: .object([("recovery_codes", .array(.text))]), errors: [409, 429], tag: "auth"), enable)
        registry.user(
            Endpoint(
                method: .post, path: "/api/auth/2fa/disable", summary: "Turn two-factor sign-in off, with a current code or a recovery code.",
                request: Self.codeRequest, status: 204, errors: [409, 429], tag: "auth"), disable)
    }

    struct CodeBody: Decodable { var code: String }

    @Sendable func setup(_ request: Request, context: UserContext) async throws -> Response {
        let user = context.user
        let secret = TOTP.newSecret()
        guard try await api.store.savePendingTOTP(userID: user.id, secret: try api.secrets.seal(secret)) else {
            throw GatewayError.conflict("Two-factor sign-in is already on; turn it off first.")
        }
        struct Setup: Encodable { var secret: String; var otpauthUri: String }
        return try APIJSON.response(Setup(secret: secret, otpauthUri: TOTP.uri(secret: secret, account: user.email)))
    }

    @Sendable func enable(_ request: Request, context: UserContext) async throws -> Response {
        let user = context.user
        let (body, _) = try await APIJSON.body(CodeBody.self, from: request, allowing: ["code"])
        try await admit(user, context: context)
        guard let record = try await api.store.totp(userID: user.id), !record.enabled else {
            throw GatewayError.conflict("There is no pending two-factor secret: call /api/auth/2fa/setup first.")
        }
        guard let step = TOTP.matchingStep(body.code.trimmingCharacters(in: .whitespaces), secret: try api.secrets.open(record.secret), now: Date()) else {
            await api.throttle.recordFailure(account: Self.throttleKey(user), now: Date().timeIntervalSince1970)
            throw GatewayError.invalidTwoFactorCode
        }
        let codes = RecoveryCodes.make()
        guard try await api.store.enableTOTP(userID: user.id, step: step, recoveryHashes: codes.map(RecoveryCodes.hash), at: Date()) else {
            throw GatewayError.conflict("Two-factor sign-in is already on.")
        }
        await api.log("two_factor_enabled", user: user.id, actor: user.id, context: context)
        struct Enabled: Encodable { var recoveryCodes: [String] }
        return try APIJSON.response(Enabled(recoveryCodes: codes))
    }

    @Sendable func disable(_ request: Request, context: UserContext) async throws -> Response {
        let user = context.user
        let (body, _) = try await APIJSON.body(CodeBody.self, from: request, allowing: ["code"])
        try await admit(user, context: context)
        guard let record = try await api.store.totp(userID: user.id), record.enabled else {
            throw GatewayError.conflict("Two-factor sign-in is not on.")
        }
        guard try await check.accept(body.code, for: record) else {
            await api.throttle.recordFailure(account: Self.throttleKey(user), now: Date().timeIntervalSince1970)
            throw GatewayError.invalidTwoFactorCode
        }
        try await api.store.disableTOTP(userID: user.id)
        await api.log("two_factor_disabled", user: user.id, actor: user.id, context: context)
        return APIJSON.noContent()
    }

    static func throttleKey(_ user: UserRecord) -> String { "2fa:\(user.id)" }

    private func admit(_ user: UserRecord, context: UserContext) async throws {
        try await api.admitSignIn(account: Self.throttleKey(user), context: context, refusal: "Too many two-factor attempts. Try again later.")
    }
}
