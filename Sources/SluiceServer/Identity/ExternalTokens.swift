import Foundation
import JWTKit
import NIOCore
import NIOHTTP1
import SluiceCore
import SluiceProviders

/// The claims Sluice reads from an identity provider's token (Auth0 or any OIDC issuer).
struct ExternalClaims: JWTPayload {
    var sub: SubjectClaim
    var iss: IssuerClaim
    var aud: AudienceClaim
    var exp: ExpirationClaim
    var nbf: NotBeforeClaim?
    var email: String?
    var name: String?
    /// OpenID Connect ID tokens: the sign-in attempt's nonce, and whether the issuer vouches for `email`.
    var nonce: String?
    var emailVerified: LenientBool?

    enum CodingKeys: String, CodingKey {
        case sub, iss, aud, exp, nbf, email, name, nonce
        case emailVerified = "email_verified"
    }

    /// Checked with the verifier's own clock and leeway in `ExternalTokens.verify`.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

/// A claim that some issuers send as `true` and others as `"true"`.
struct LenientBool: Codable, Equatable {
    var value: Bool

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let bool = try? container.decode(Bool.self) {
            value = bool
        } else {
            value = try container.decode(String.self).lowercased() == "true"
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

/// Verifies RS256 and ES256 tokens from the configured issuer against its JWKS: fetched on first
/// use, refetched when older than `refresh` or when a token names a key it does not hold (the
/// issuer rotated), but at most once per `refetchGap`, so junk `kid`s cannot make Sluice hammer
/// the issuer. `iss`, `aud`, `exp` and `nbf` are checked; any other `alg`, `none` and HS256 among
/// them, is refused before a key is looked at.
actor ExternalTokens {
    static let algorithms: Set<String> = ["RS256", "ES256"]

    private let settings: SluiceConfig.ExternalIdentity
    private let http: UpstreamHTTPClient
    private let refetchGap: Duration
    private var keys = JWTKeyCollection()
    private var kids: Set<String> = []
    private var fetchedAt: ContinuousClock.Instant?
    private var lastUnknownRefetch: ContinuousClock.Instant?
    private var lastFailure: ContinuousClock.Instant?

    init(settings: SluiceConfig.ExternalIdentity, http: UpstreamHTTPClient, refetchGap: Duration = .seconds(30)) {
        self.settings = settings
        self.http = http
        self.refetchGap = refetchGap
    }

    /// Whether a bearer token looks like one of the issuer's (by its header's `alg`), so that
    /// sign-in can tell it from Sluice's own HS256 access tokens without trying both.
    nonisolated static func isExternal(_ token: String) -> Bool {
        AccessTokens.headerAlgorithm(token).map { $0 != "HS256" } ?? false
    }

    func verify(_ token: String, now: Date = Date()) async throws(GatewayError) -> ExternalClaims {
        guard let header = AccessTokens.header(token), let alg = header["alg"] as? String, Self.algorithms.contains(alg),
              let kid = header["kid"] as? String
        else { throw .invalidToken }
        await refreshIfNeeded(wanting: kid)
        guard kids.contains(kid) else { throw .invalidToken }
        let claims: ExternalClaims
        do { claims = try await keys.verify(token, as: ExternalClaims.self) } catch { throw .invalidToken }
        let leeway = TimeInterval(settings.leewaySeconds)
        guard claims.iss.value == settings.issuer, claims.aud.value.contains(settings.audience),
              claims.exp.value.addingTimeInterval(leeway) > now, (claims.nbf?.value ?? .distantPast) <= now.addingTimeInterval(leeway),
              !claims.sub.value.isEmpty, claims.sub.value.count <= 200
        else { throw .invalidToken }
        return claims
    }

    private func refreshIfNeeded(wanting kid: String) async {
        let stale = fetchedAt.map { ContinuousClock.now - $0 > .seconds(settings.jwksRefreshSeconds) } ?? true
        guard stale || !kids.contains(kid) else { return }
        if !stale {
            // An unknown key: the issuer may have rotated, but only one such refetch per gap.
            if let lastUnknownRefetch, ContinuousClock.now - lastUnknownRefetch < refetchGap { return }
            lastUnknownRefetch = .now
        }
        // An issuer that is down is asked once per gap, not once per token.
        if let lastFailure, ContinuousClock.now - lastFailure < refetchGap { return }
        guard let fetched = await fetch() else {
            lastFailure = .now
            return
        }
        keys = fetched.keys
        kids = fetched.kids
        fetchedAt = .now
    }

    /// The issuer's keys, or nil when they cannot be had now (the old ones stay in use).
    private func fetch() async -> (keys: JWTKeyCollection, kids: Set<String>)? {
        guard let response = try? await http.execute(.GET, url: settings.jwksURL, headers: ["accept": "application/json"], body: nil, headTimeout: .seconds(10)),
              response.status == 200, let body = try? await response.body.collect(upTo: 1 << 20),
              let jwks = try? JSONDecoder().decode(JWKS.self, from: Data(buffer: body))
        else { return nil }
        let collection = JWTKeyCollection()
        var kids: Set<String> = []
        for key in jwks.keys {
            // Keys for other uses or algorithms, or without an id, are skipped rather than failing the set.
            guard let kid = key.keyIdentifier?.string, key.algorithm.map({ Self.algorithms.contains($0.rawValue) }) ?? true,
                  (try? await collection.add(jwk: key)) != nil
            else { continue }
            kids.insert(kid)
        }
        return (collection, kids)
    }
}
