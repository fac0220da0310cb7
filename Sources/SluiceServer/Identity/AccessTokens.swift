import Crypto
import Foundation
import JWTKit
import SluiceCore

/// The claims of an `/api` access token. Who the user is comes from `sub`; their role and status
/// are read from the store on each request, so a demotion or a ban takes effect at once.
struct AccessClaims: JWTPayload {
    var sub: SubjectClaim
    var iss: IssuerClaim
    var aud: AudienceClaim
    var iat: IssuedAtClaim
    var exp: ExpirationClaim
    /// The sign-in (refresh-token family) this token belongs to; signing out revokes it.
    var sid: String

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
    }
}

/// Signs and checks access tokens (HS256 JWT) and makes refresh tokens.
struct AccessTokens: Sendable {
    let keys: JWTKeyCollection
    let issuer: String
    let audience: String
    let lifetime: Duration

    init(secret: String, issuer: String, audience: String, lifetime: Duration) async {
        keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        self.issuer = issuer
        self.audience = audience
        self.lifetime = lifetime
    }

    func sign(userID: Int64, sessionID: String, now: Date = Date()) async throws -> String {
        let claims = AccessClaims(
            sub: .init(value: String(userID)), iss: .init(value: issuer), aud: .init(value: [audience]), iat: .init(value: now),
            exp: .init(value: now.addingTimeInterval(Double(lifetime.components.seconds))), sid: sessionID)
        return try await keys.sign(claims)
    }

    /// The user and session of a valid token, or `invalidToken`: a bad signature, another
    /// algorithm (`none` included), another issuer or audience, or an expired token.
    func verify(_ token: String) async throws(GatewayError) -> (userID: Int64, sessionID: String) {
        // The library picks the key by `kid` and checks the signature with it, whatever `alg` the
        // header claims; we sign only HS256, so a header naming anything else is refused outright.
        guard Self.headerAlgorithm(token) == "HS256" else { throw .invalidToken }
        do {
            let claims = try await keys.verify(token, as: AccessClaims.self)
            guard claims.iss.value == issuer, claims.aud.value.contains(audience), let id = Int64(claims.sub.value) else {
                throw GatewayError.invalidToken
            }
            return (id, claims.sid)
        } catch {
            throw .invalidToken
        }
    }

    static func headerAlgorithm(_ token: String) -> String? { header(token)?["alg"] as? String }

    /// A JWT's header, read without checking anything.
    static func header(_ token: String) -> [String: Any]? {
        guard let first = token.split(separator: ".", omittingEmptySubsequences: false).first else { return nil }
        var base64 = first.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
    }

    /// A random opaque refresh token and the hash the store keeps of it.
    static func makeRefreshToken() -> (token: String, hash: String) {
        let token = "rt_" + randomToken(bytes: 32)
        return (token, KeyAuthenticator.hash(token))
    }

    /// URL-safe base64 of random bytes.
    static func randomToken(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return base64URL(Data((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) }))
    }

    /// Base64url without padding (RFC 4648 §5), as JWTs and PKCE write bytes.
    static func base64URL(_ data: some DataProtocol) -> String {
        Data(data).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// A secret for a process that was given none: tokens then last only as long as the process.
    static func ephemeralSecret() -> String { randomToken(bytes: 48) }
}
