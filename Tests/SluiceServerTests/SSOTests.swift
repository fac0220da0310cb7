import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore
@testable import SluiceServer
import SluiceStore
import Testing

/// SSO sign-in against a loopback identity provider (`MockIdentityProvider`), driven the way a
/// browser drives it: initiate redirects to the provider, the provider redirects back with a
/// code, the callback signs in. Covers PKCE, single-use state, the nonce, linking by verified
/// address only, explicit linking, key rotation, and the Linux.do and GitHub presets.
@Suite struct SSOTests {
    typealias IdP = MockIdentityProvider

    static func configure(_ idp: IdP, stateTTL: Int? = nil) -> (inout SluiceConfig) -> Void {
        { config in
            for name in SluiceConfig.SSO.providerNames {
                config.auth.sso.providers[name]?.clientID = IdP.clientID
                config.auth.sso.providers[name]?.clientSecret = IdP.clientSecret
            }
            config.auth.sso.providers["oidc"]?.issuer = idp.issuer
            config.auth.sso.providers["linuxdo"]?.authorizeURL = idp.base + "/linuxdo/authorize"
            config.auth.sso.providers["linuxdo"]?.tokenURL = idp.base + "/linuxdo/token"
            config.auth.sso.providers["linuxdo"]?.userInfoURL = idp.base + "/linuxdo/api/user"
            config.auth.sso.providers["github"]?.authorizeURL = idp.base + "/github/login/oauth/authorize"
            config.auth.sso.providers["github"]?.tokenURL = idp.base + "/github/login/oauth/access_token"
            config.auth.sso.providers["github"]?.userInfoURL = idp.base + "/github/api"
        }
    }

    /// A client that does not follow redirects, so each hop can be looked at.
    static func withBrowser(_ body: (HTTPClient) async throws -> Void) async throws {
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
        let outcome = await Result { try await body(client) }
        try await client.shutdown()
        try outcome.get()
    }

    static func get(_ browser: HTTPClient, _ url: String, headers: [(String, String)] = []) async throws -> Harness.Reply {
        var request = HTTPClientRequest(url: url)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await browser.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 1 << 20)
        return Harness.Reply(status: Int(response.status.code), headers: response.headers, body: Data(buffer: body))
    }

    /// Initiate, the provider's authorize, and the callback's address as the provider gave it
    /// (its path and query; the configured base URL has no real port in tests).
    static func authorize(_ h: Harness, _ browser: HTTPClient, provider: String, from url: String? = nil) async throws -> String {
        var authorizeURL = url
        if authorizeURL == nil {
            let initiated = try await get(browser, h.baseURL + "/api/auth/sso/\(provider)/initiate")
            try #require(initiated.status == 302, "initiate: \(initiated.text)")
            authorizeURL = initiated.headers.first(name: "location")
        }
        let authorized = try await get(browser, try #require(authorizeURL))
        try #require(authorized.status == 302, "authorize: \(authorized.status)")
        let location = try #require(authorized.headers.first(name: "location"))
        let back = try #require(URLComponents(string: location))
        #expect(back.path == "/api/auth/sso/\(provider)/callback")
        return back.path + "?" + (back.percentEncodedQuery ?? "")
    }

    static func signIn(_ h: Harness, _ browser: HTTPClient, provider: String = "oidc") async throws -> Harness.Reply {
        try await get(browser, h.baseURL + (try await authorize(h, browser, provider: provider)))
    }

    static func userID(_ reply: Harness.Reply) throws -> Int64 {
        try #require(((reply.json?["user"] as? [String: Any])?["id"] as? NSNumber)?.int64Value, "\(reply.status) \(reply.text)")
    }

    @Test func anOIDCSignInMakesAVerifiedUserWithPKCEAndSignsInToItAgain() async throws {
        try await IdP.run { idp in
            try await Harness.run(configure: Self.configure(idp)) { h in
                try await Self.withBrowser { browser in
                    let listed = try await h.api("/api/auth/sso/providers", as: nil)
                    #expect(listed.json?["data"] as? [String] == ["github", "linuxdo", "oidc"])
                    idp.next(.init(subject: "oidc-alice", email: "alice@idp.test", emailVerified: true))
                    let first = try await Self.signIn(h, browser)
                    #expect(first.status == 200, "\(first.text)")
                    let sent = idp.state.withLock { $0.lastAuthorizeQuery }
                    #expect(sent["code_challenge_method"] == "S256")
                    #expect(sent["nonce"]?.isEmpty == false)
                    #expect(sent["redirect_uri"]?.hasSuffix("/api/auth/sso/oidc/callback") == true)
                    #expect(idp.state.withLock { $0.pkceChecked } == 1)
                    let id = try Self.userID(first)
                    let access = try #require(first.json?["access_token"] as? String)
                    let me = try await h.request("/api/auth/me", method: .GET, key: access)
                    #expect(me.json?["email"] as? String == "alice@idp.test")
                    #expect(me.json?["email_verified"] as? Bool == true)
                    #expect(try await h.gateway.store.passwordHash(userID: id) == nil)

                    let again = try await Self.signIn(h, browser)
                    #expect(try Self.userID(again) == id)
                    let linked = try await h.request("/api/auth/identities", method: .GET, key: access)
                    #expect(linked.list.map { $0["provider"] as? String } == ["oidc"])
                    // The JSON variant of initiate, for pages that navigate themselves.
                    let json = try await Self.get(browser, h.baseURL + "/api/auth/sso/oidc/initiate", headers: [("accept", "application/json")])
                    #expect(json.status == 200)
                    #expect((json.json?["authorization_url"] as? String)?.hasPrefix(idp.issuer + "/authorize?") == true)
                }
            }
        }
    }

    @Test func theDocumentDescribesTheSignInRoutesWhenTheyAreOn() async throws {
        try await IdP.run { idp in
            let sink = try await SMTPSink()
            defer { sink.stop() }
            let configure = Self.configure(idp)
            try await Harness.run(configure: { config in
                configure(&config)
                sink.configure(&config)
            }) { h in
                let reply = try await h.request("/openapi.json", method: .GET, key: nil)
                let (status, problems) = try await runPython(
                    Harness.repoRoot.appendingPathComponent("Tests/conformance/validate_openapi.py"), arguments: [], input: reply.body)
                #expect(status == 0, "\(problems)")
                let paths = try #require(reply.json?["paths"] as? [String: [String: Any]])
                for (path, method) in [
                    ("/api/auth/sso/{provider}/initiate", "get"), ("/api/auth/sso/{provider}/callback", "get"), ("/api/auth/sso/two-factor", "post"),
                    ("/api/auth/identities/{provider}", "delete"), ("/api/auth/password/forgot", "post"), ("/api/auth/password/reset", "post"),
                    ("/api/auth/email/verify", "get"), ("/api/auth/email/change", "post"), ("/api/auth/dev-token", "post"),
                ] {
                    #expect(paths[path]?[method] != nil, "\(method) \(path) is not described")
                }
            }
        }
    }

    @Test func aStateWorksOnceAndAWrongOneOrWrongNonceSignsNoOneIn() async throws {
        try await IdP.run { idp in
            try await Harness.run(configure: Self.configure(idp)) { h in
                try await Self.withBrowser { browser in
                    idp.next(.init(subject: "replay", email: "replay@idp.test"))
                    let callback = try await Self.authorize(h, browser, provider: "oidc")
                    #expect(try await Self.get(browser, h.baseURL + callback).status == 200)
                    let replayed = try await Self.get(browser, h.baseURL + callback)
                    #expect(replayed.status == 400)
                    #expect(replayed.errorCode == "invalid_or_expired_token")

                    // A state this gateway never issued.
                    let forged = try await Self.get(browser, h.baseURL + "/api/auth/sso/oidc/callback?code=x&state=made-up")
                    #expect(forged.errorCode == "invalid_or_expired_token")
                    // A state for one provider is no good at another's callback.
                    let elsewhere = try await Self.authorize(h, browser, provider: "github")
                    let swapped = try await Self.get(browser, h.baseURL + elsewhere.replacingOccurrences(of: "/github/", with: "/oidc/"))
                    #expect(swapped.errorCode == "invalid_or_expired_token")

                    // An ID token for another sign-in attempt (a nonce that is not this one's).
                    idp.next(.init(subject: "nonce-victim", email: "nonce@idp.test"))
                    idp.state.withLock { $0.forgedNonce = "someone-elses" }
                    let wrongNonce = try await Self.signIn(h, browser)
                    #expect(wrongNonce.status == 401)
                    #expect(wrongNonce.errorCode == "sso_failed")
                    #expect(try await h.gateway.store.user(email: "nonce@idp.test") == nil)
                }
            }
        }
    }

    @Test func onlyAVerifiedAddressLinksToAnExistingAccountOtherwiseItsOwnerLinks() async throws {
        try await IdP.run { idp in
            try await Harness.run(configure: Self.configure(idp)) { h in
                try await Self.withBrowser { browser in
                    let owner = try await h.signUp("owner@idp.test")
                    // The provider does not vouch for the address: no takeover of the password account.
                    idp.next(.init(subject: "unverified", email: "owner@idp.test", emailVerified: false))
                    let refused = try await Self.signIn(h, browser)
                    #expect(refused.status == 409, "\(refused.text)")
                    #expect(try await h.gateway.store.identity(provider: "oidc", subject: "unverified") == nil)

                    // Its owner, signed in, links it explicitly.
                    let link = try await h.api("/api/auth/sso/oidc/link", method: .POST, body: "{}", as: owner)
                    let url = try #require(link.json?["authorization_url"] as? String)
                    let callback = try await Self.authorize(h, browser, provider: "oidc", from: url)
                    let linked = try await Self.get(browser, h.baseURL + callback)
                    #expect(linked.status == 200, "\(linked.text)")
                    #expect(linked.json?["linked"] as? String == "oidc")
                    #expect(try Self.userID(try await Self.signIn(h, browser)) == owner.userID)

                    // A verified address links by itself.
                    let other = try await h.signUp("verified@idp.test")
                    idp.next(.init(subject: "verified", email: "verified@idp.test", emailVerified: true))
                    #expect(try Self.userID(try await Self.signIn(h, browser)) == other.userID)
                    #expect(try await h.gateway.store.user(id: other.userID)?.emailVerifiedAt != nil)

                    // An account whose only way in is its provider cannot unlink it.
                    idp.next(.init(subject: "only-sso", email: "only@idp.test"))
                    let only = try await Self.signIn(h, browser)
                    let token = try #require(only.json?["access_token"] as? String)
                    let unlink = try await h.request("/api/auth/identities/oidc", method: .DELETE, key: token)
                    #expect(unlink.status == 409)
                    #expect(try await h.request("/api/auth/identities/oidc", method: .DELETE, key: owner.access).status == 204)
                }
            }
        }
    }

    @Test func aRotatedSigningKeyIsFetchedAndAccepted() async throws {
        try await IdP.run { idp in
            try await Harness.run(configure: Self.configure(idp)) { h in
                try await Self.withBrowser { browser in
                    idp.next(.init(subject: "rotating", email: "rotating@idp.test"))
                    #expect(try await Self.signIn(h, browser).status == 200)
                    let fetches = idp.state.withLock { $0.jwksFetches }
                    await idp.rotate(to: "key-2")
                    let after = try await Self.signIn(h, browser)
                    #expect(after.status == 200, "\(after.text)")
                    #expect(idp.state.withLock { $0.jwksFetches } == fetches + 1)
                }
            }
        }
    }

    @Test func linuxdoGivesItsTrustLevelAndTheMinimumIsEnforced() async throws {
        try await IdP.run { idp in
            let configure = Self.configure(idp)
            try await Harness.run(configure: { config in
                configure(&config)
                config.auth.sso.providers["linuxdo"]?.minTrustLevel = 2
            }) { h in
                try await Self.withBrowser { browser in
                    idp.next(.init(subject: "1001", email: "ld@linux.do", emailVerified: false, trustLevel: 3))
                    let reply = try await Self.signIn(h, browser, provider: "linuxdo")
                    #expect(reply.status == 200, "\(reply.text)")
                    let user = try #require(try await h.gateway.store.user(id: try Self.userID(reply)))
                    #expect(user.trustLevel == 3)
                    // Linux.do does not vouch for the address, so the account gets a stand-in.
                    #expect(user.email == "linuxdo-1001@sso.invalid")

                    idp.next(.init(subject: "1002", email: nil, trustLevel: 1))
                    let low = try await Self.signIn(h, browser, provider: "linuxdo")
                    #expect(low.status == 403)
                    #expect(low.errorCode == "trust_level_too_low")
                    idp.next(.init(subject: "1003", email: nil, trustLevel: 4, active: false))
                    #expect(try await Self.signIn(h, browser, provider: "linuxdo").status == 401)
                }
            }
        }
    }

    @Test func githubUsesTheVerifiedPrimaryAddress() async throws {
        try await IdP.run { idp in
            try await Harness.run(configure: Self.configure(idp)) { h in
                try await Self.withBrowser { browser in
                    idp.next(.init(subject: "77", email: "octo@github.test", emailVerified: true, name: "Octo"))
                    let reply = try await Self.signIn(h, browser, provider: "github")
                    #expect(reply.status == 200, "\(reply.text)")
                    let user = try #require(try await h.gateway.store.user(id: try Self.userID(reply)))
                    #expect(user.email == "octo@github.test")
                    #expect(user.emailVerifiedAt != nil)
                }
            }
        }
    }

    @Test func anAccountWithTwoFactorFinishesWithItsCode() async throws {
        try await IdP.run { idp in
            try await Harness.run(configure: Self.configure(idp)) { h in
                try await Self.withBrowser { browser in
                    let session = try await h.signUp("twofactor@idp.test")
                    let secret = try #require(try await h.api("/api/auth/2fa/setup", method: .POST, body: "{}", as: session).json?["secret"] as? String)
                    let enabled = try await h.api(
                        "/api/auth/2fa/enable", method: .POST, body: #"{"code":"\#(try TwoFactorTests.code(secret))"}"#, as: session)
                    let recovery = try #require((enabled.json?["recovery_codes"] as? [String])?.first)

                    idp.next(.init(subject: "tf", email: "twofactor@idp.test", emailVerified: true))
                    let pending = try await Self.signIn(h, browser)
                    #expect(pending.json?["two_factor_required"] as? Bool == true)
                    #expect(pending.json?["access_token"] == nil)
                    let ticket = try #require(pending.json?["ticket"] as? String)
                    let wrong = try await h.request("/api/auth/sso/two-factor", body: #"{"ticket":"\#(ticket)","otp":"000000"}"#, key: nil)
                    #expect(wrong.errorCode == "invalid_two_factor_code")
                    let done = try await h.request("/api/auth/sso/two-factor", body: #"{"ticket":"\#(ticket)","otp":"\#(recovery)"}"#, key: nil)
                    #expect(try Self.userID(done) == session.userID)
                    let again = try await h.request("/api/auth/sso/two-factor", body: #"{"ticket":"\#(ticket)","otp":"\#(recovery)"}"#, key: nil)
                    #expect(again.errorCode == "invalid_or_expired_token")
                }
            }
        }
    }
}
