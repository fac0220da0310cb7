import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore
import SluiceProviders

/// Who an SSO provider says signed in.
struct SSOProfile: Sendable, Equatable {
    var subject: String
    var email: String?
    /// Whether the provider vouches for `email`; only then may it link to an existing account.
    var emailVerified: Bool
    var name: String?
    /// Linux.do's trust level (0 to 4), which becomes Sluice's.
    var trustLevel: Int?
}

/// The secrets of one sign-in attempt, kept (hashed state, the rest in its payload) between
/// initiate and callback.
struct SSOAttempt: Codable, Sendable {
    var provider: String
    var nonce: String
    /// PKCE (RFC 7636): the provider gets its S256 hash up front and the verifier with the code.
    var verifier: String

    static func new(provider: String) -> SSOAttempt {
        SSOAttempt(provider: provider, nonce: AccessTokens.randomToken(bytes: 16), verifier: AccessTokens.randomToken(bytes: 32))
    }

    var challenge: String {
        AccessTokens.base64URL(Data(SHA256.hash(data: Data(verifier.utf8))))
    }
}

/// One configured provider: where to send the browser, and how to turn the code it comes back
/// with into an `SSOProfile`. An OpenID Connect issuer's endpoints and keys come from its
/// discovery document, fetched on first use and again after a failure; its ID token is checked
/// like an external identity token (`ExternalTokens`: RS256/ES256, JWKS with rotation, `iss`,
/// `aud` = client id, `exp`, `nbf`) and then for the attempt's `nonce`.
actor SSOProvider {
    enum Failure: Error, Equatable {
        /// The provider refused the code or answered something that is not a sign-in.
        case refused(String)
        /// The provider could not be reached.
        case unavailable
    }

    struct Discovery: Decodable {
        var issuer: String
        var authorizationEndpoint: String
        var tokenEndpoint: String
        var jwksUri: String
        var userinfoEndpoint: String?
    }

    let name: String
    let settings: SluiceConfig.SSOProvider
    let redirectURI: String
    private let http: UpstreamHTTPClient
    private var discovery: (Discovery, ExternalTokens)?

    init(name: String, settings: SluiceConfig.SSOProvider, baseURL: String, http: UpstreamHTTPClient) {
        self.name = name
        self.settings = settings
        self.redirectURI = "\(baseURL)/api/auth/sso/\(name)/callback"
        self.http = http
    }

    func authorizationURL(state: String, attempt: SSOAttempt) async throws(Failure) -> String {
        let endpoint = settings.kind == .oidc ? try await discovered().0.authorizationEndpoint : settings.authorizeURL
        guard var components = URLComponents(string: endpoint) else { throw .unavailable }
        var query = components.queryItems ?? []
        query += [
            URLQueryItem(name: "response_type", value: "code"), URLQueryItem(name: "client_id", value: settings.clientID),
            URLQueryItem(name: "redirect_uri", value: redirectURI), URLQueryItem(name: "scope", value: settings.scopes.joined(separator: " ")),
            URLQueryItem(name: "state", value: state), URLQueryItem(name: "code_challenge", value: attempt.challenge),
            URLQueryItem(name: "code_challenge_method", value: "S256"),
        ]
        if settings.kind == .oidc { query.append(URLQueryItem(name: "nonce", value: attempt.nonce)) }
        components.queryItems = query
        guard let url = components.url?.absoluteString else { throw .unavailable }
        return url
    }

    func profile(code: String, attempt: SSOAttempt) async throws(Failure) -> SSOProfile {
        switch settings.kind {
        case .oidc:
            let (discovery, verifier) = try await discovered()
            let tokens = try await exchange(code: code, attempt: attempt, at: discovery.tokenEndpoint)
            guard let idToken = tokens.idToken else { throw .refused("the token response has no id_token") }
            let claims: ExternalClaims
            do { claims = try await verifier.verify(idToken) } catch { throw .refused("the ID token did not verify") }
            guard claims.nonce == attempt.nonce else { throw .refused("the ID token's nonce is not this sign-in's") }
            return SSOProfile(
                subject: claims.sub.value, email: claims.email, emailVerified: claims.emailVerified?.value ?? false, name: claims.name, trustLevel: nil)
        case .linuxdo:
            let tokens = try await exchange(code: code, attempt: attempt, at: settings.tokenURL)
            struct User: Decodable { var id: Int64; var username: String?; var name: String?; var email: String?; var active: Bool?; var trustLevel: Int? }
            let user = try await get(User.self, settings.userInfoURL, bearer: tokens.accessToken)
            guard user.active ?? true else { throw .refused("the Linux.do account is not active") }
            // Linux.do does not say whether the address is verified, so it never links by itself.
            return SSOProfile(
                subject: String(user.id), email: user.email, emailVerified: false, name: user.name ?? user.username,
                trustLevel: user.trustLevel.map { min(max($0, 0), 4) })
        case .github:
            let tokens = try await exchange(code: code, attempt: attempt, at: settings.tokenURL)
            struct User: Decodable { var id: Int64; var login: String; var name: String? }
            struct Address: Decodable { var email: String; var primary: Bool; var verified: Bool }
            let user = try await get(User.self, settings.userInfoURL + "/user", bearer: tokens.accessToken)
            let addresses = (try? await get([Address].self, settings.userInfoURL + "/user/emails", bearer: tokens.accessToken)) ?? []
            let verified = addresses.first { $0.primary && $0.verified } ?? addresses.first { $0.verified }
            return SSOProfile(subject: String(user.id), email: verified?.email, emailVerified: verified != nil, name: user.name ?? user.login, trustLevel: nil)
        }
    }

    // MARK: HTTP

    struct TokenResponse: Decodable {
        var accessToken: String
        var idToken: String?
    }

    private func exchange(code: String, attempt: SSOAttempt, at url: String) async throws(Failure) -> TokenResponse {
        var form = URLComponents()
        form.queryItems = [
            URLQueryItem(name: "grant_type", value: "authorization_code"), URLQueryItem(name: "code", value: code),
            URLQueryItem(name: "redirect_uri", value: redirectURI), URLQueryItem(name: "client_id", value: settings.clientID),
            URLQueryItem(name: "client_secret", value: settings.clientSecret), URLQueryItem(name: "code_verifier", value: attempt.verifier),
        ]
        // `+` is a space in a form body; URLComponents leaves it alone.
        let body = (form.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B")
        let (status, data) = try await call(
            .POST, url, headers: [("content-type", "application/x-www-form-urlencoded"), ("accept", "application/json")], body: body)
        guard status == 200, let tokens = try? Self.decoder.decode(TokenResponse.self, from: data) else {
            throw .refused("the provider did not accept the code (HTTP \(status))")
        }
        return tokens
    }

    private func get<T: Decodable>(_ type: T.Type, _ url: String, bearer: String) async throws(Failure) -> T {
        let (status, data) = try await call(.GET, url, headers: [("authorization", "Bearer \(bearer)"), ("accept", "application/json")], body: nil)
        guard status == 200, let value = try? Self.decoder.decode(T.self, from: data) else {
            throw .refused("the provider's user API answered HTTP \(status)")
        }
        return value
    }

    private func call(_ method: HTTPMethod, _ url: String, headers: [(String, String)], body: String?) async throws(Failure) -> (Int, Data) {
        var all = HTTPHeaders(headers)
        // GitHub refuses API calls without one.
        all.add(name: "user-agent", value: "Sluice")
        do {
            let response = try await http.execute(method, url: url, headers: all, body: body.map { ByteBuffer(string: $0) }, headTimeout: .seconds(15))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            return (response.status, Data(buffer: bytes))
        } catch {
            throw .unavailable
        }
    }

    private func discovered() async throws(Failure) -> (Discovery, ExternalTokens) {
        if let discovery { return discovery }
        let issuer = settings.issuer
        let url = (issuer.hasSuffix("/") ? issuer : issuer + "/") + ".well-known/openid-configuration"
        let (status, data) = try await call(.GET, url, headers: [("accept", "application/json")], body: nil)
        guard status == 200, let document = try? Self.decoder.decode(Discovery.self, from: data) else { throw .unavailable }
        // OpenID Connect Discovery §4.3: the document must name the issuer it was fetched for.
        guard document.issuer == issuer else { throw .refused("the discovery document is for another issuer") }
        var keys = SluiceConfig.ExternalIdentity()
        keys.issuer = document.issuer
        keys.audience = settings.clientID
        keys.jwksURLOverride = document.jwksUri
        let found = (document, ExternalTokens(settings: keys, http: http))
        discovery = found
        return found
    }

    private static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()
}
