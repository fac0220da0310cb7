import Crypto
import Foundation
import Hummingbird
import JWTKit
import Logging
import Synchronization

/// A loopback identity provider speaking three dialects: OpenID Connect under `/oidc`
/// (discovery, JWKS, authorize, token, user info), Linux.do Connect under `/linuxdo`, and
/// GitHub's OAuth and user API under `/github`. Authorize signs in `next` at once (no consent
/// page) and redirects back with a code; token checks the client, the redirect URI, the code
/// (single use) and the PKCE verifier against the S256 challenge, as the real ones do.
final class MockIdentityProvider: Sendable {
    static let clientID = "sluice-client"
    static let clientSecret = "sluice-secret"

    /// Who the next authorize signs in.
    struct Person: Sendable {
        var subject = "person-1"
        var email: String? = "person@idp.test"
        var emailVerified = true
        var name = "Person One"
        var trustLevel = 2
        var active = true
    }

    struct Grant: Sendable {
        var person: Person
        var redirectURI: String
        var challenge: String
        var nonce: String?
    }

    struct State: Sendable {
        var base = ""
        var next = Person()
        var codes: [String: Grant] = [:]
        var accessTokens: [String: Person] = [:]
        var kid = "key-1"
        var keys: [String: ES256PrivateKey] = [:]
        var jwksFetches = 0
        var pkceChecked = 0
        /// Sign the next ID tokens with this nonce instead of the one authorize was given.
        var forgedNonce: String?
        var lastAuthorizeQuery: [String: String] = [:]
    }

    let state = Mutex(State())
    private let signer = JWTKeyCollection()

    var base: String { state.withLock { $0.base } }
    var issuer: String { base + "/oidc" }
    func next(_ person: Person) { state.withLock { $0.next = person } }

    /// A new signing key; the JWKS then holds only it, as after a provider's rotation.
    func rotate(to kid: String) async {
        let key = ES256PrivateKey()
        await signer.add(ecdsa: key, kid: JWKIdentifier(string: kid))
        state.withLock {
            $0.kid = kid
            $0.keys = [kid: key]
        }
    }

    static func run(_ body: (MockIdentityProvider) async throws -> Void) async throws {
        let provider = MockIdentityProvider()
        await provider.rotate(to: "key-1")
        let (ports, sink) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: provider.router(), configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "idp"),
            onServerRunning: { sink.yield($0.localAddress?.port ?? 0) }, logger: Logger(label: "idp", factory: { _ in SwiftLogNoOpLogHandler() }))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.run() }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { return }
            provider.state.withLock { $0.base = "http://127.0.0.1:\(port)" }
            let outcome = await Result { try await body(provider) }
            group.cancelAll()
            try outcome.get()
        }
    }

    private func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/oidc/.well-known/openid-configuration") { _, _ in
            let issuer = self.issuer
            return Self.json([
                "issuer": issuer, "authorization_endpoint": issuer + "/authorize", "token_endpoint": issuer + "/token",
                "jwks_uri": issuer + "/jwks", "userinfo_endpoint": issuer + "/userinfo",
            ])
        }
        router.get("/oidc/jwks") { _, _ in
            let keys = self.state.withLock { state in
                state.jwksFetches += 1
                return state.keys
            }
            let jwks = keys.map { kid, key -> String in
                let p = key.publicKey.parameters!
                return #"{"kty":"EC","crv":"P-256","use":"sig","alg":"ES256","kid":"\#(kid)","x":"\#(p.x)","y":"\#(p.y)"}"#
            }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(string: #"{"keys":[\#(jwks.joined(separator: ","))]}"#)))
        }
        for path in ["/oidc/authorize", "/linuxdo/authorize", "/github/login/oauth/authorize"] {
            router.get(RouterPath(path)) { request, _ in try self.authorize(request) }
        }
        for path in ["/oidc/token", "/linuxdo/token", "/github/login/oauth/access_token"] {
            router.post(RouterPath(path)) { request, _ in try await self.token(request, oidc: path.hasPrefix("/oidc")) }
        }
        router.get("/linuxdo/api/user") { request, _ in
            let person = try self.person(request)
            return Self.json([
                "id": Int(person.subject) ?? 0, "username": person.name.lowercased(), "name": person.name, "active": person.active,
                "trust_level": person.trustLevel, "silenced": false, "email": person.email.map { $0 as Any } ?? NSNull(),
            ])
        }
        router.get("/github/api/user") { request, _ in
            let person = try self.person(request)
            return Self.json(["id": Int(person.subject) ?? 0, "login": person.name.lowercased(), "name": person.name, "email": NSNull()])
        }
        router.get("/github/api/user/emails") { request, _ in
            let person = try self.person(request)
            let emails: [[String: Any]] = [
                ["email": "secondary@idp.test", "primary": false, "verified": true],
                ["email": person.email ?? "none@idp.test", "primary": true, "verified": person.emailVerified],
            ]
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(data: try JSONSerialization.data(withJSONObject: emails))))
        }
        return router
    }

    private func authorize(_ request: Request) throws -> Response {
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters { query[String(key)] = String(value) }
        guard query["client_id"] == Self.clientID, query["response_type"] == "code", query["code_challenge_method"] == "S256",
              let redirect = query["redirect_uri"], let challenge = query["code_challenge"], let state = query["state"]
        else { return Response(status: .badRequest) }
        let code = UUID().uuidString
        self.state.withLock {
            $0.lastAuthorizeQuery = query
            $0.codes[code] = Grant(person: $0.next, redirectURI: redirect, challenge: challenge, nonce: query["nonce"])
        }
        var back = URLComponents(string: redirect)!
        back.queryItems = [URLQueryItem(name: "code", value: code), URLQueryItem(name: "state", value: state)]
        return Response(status: .found, headers: [.location: back.url!.absoluteString])
    }

    private func token(_ request: Request, oidc: Bool) async throws -> Response {
        var request = request
        let body = String(buffer: try await request.collectBody(upTo: 1 << 16))
        var form: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            if parts.count == 2 { form[parts[0]] = parts[1] }
        }
        guard form["client_id"] == Self.clientID, form["client_secret"] == Self.clientSecret, form["grant_type"] == "authorization_code",
              let code = form["code"], let verifier = form["code_verifier"]
        else { return Self.json(["error": "invalid_client"], status: .unauthorized) }
        // Single use: the code is gone whatever happens next.
        guard let grant = state.withLock({ $0.codes.removeValue(forKey: code) }), form["redirect_uri"] == grant.redirectURI,
              Self.s256(verifier) == grant.challenge
        else { return Self.json(["error": "invalid_grant"], status: .badRequest) }
        let access = "at-" + UUID().uuidString
        let (kid, forged) = state.withLock { state in
            state.pkceChecked += 1
            state.accessTokens[access] = grant.person
            return (state.kid, state.forgedNonce)
        }
        var answer: [String: Any] = ["access_token": access, "token_type": "bearer", "scope": "openid"]
        if oidc {
            let person = grant.person
            let claims = IDToken(
                sub: .init(value: person.subject), iss: .init(value: issuer), aud: .init(value: [Self.clientID]),
                exp: .init(value: Date().addingTimeInterval(300)), iat: .init(value: Date()), nonce: forged ?? grant.nonce, email: person.email,
                email_verified: person.emailVerified, name: person.name)
            answer["id_token"] = try await signer.sign(claims, kid: JWKIdentifier(string: kid))
        }
        return Self.json(answer)
    }

    struct IDToken: JWTPayload {
        var sub: SubjectClaim
        var iss: IssuerClaim
        var aud: AudienceClaim
        var exp: ExpirationClaim
        var iat: IssuedAtClaim
        var nonce: String?
        var email: String?
        var email_verified: Bool
        var name: String
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    private func person(_ request: Request) throws -> Person {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
              let person = state.withLock({ $0.accessTokens[String(header.dropFirst(7))] })
        else { throw HTTPError(.unauthorized) }
        return person
    }

    static func s256(_ verifier: String) -> String {
        Data(SHA256.hash(data: Data(verifier.utf8))).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func json(_ object: [String: Any], status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json"],
            body: .init(byteBuffer: .init(data: (try? JSONSerialization.data(withJSONObject: object)) ?? Data())))
    }
}
