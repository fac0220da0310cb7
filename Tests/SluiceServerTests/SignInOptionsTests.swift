import Foundation
@testable import SluiceServer
import Testing

/// The development token helper, and the config keys of SSO and mail: what they accept, and the
/// combinations that cannot work, refused at start.
@Suite struct SignInOptionsTests {
    @Test func theDevelopmentTokenHelperSignsAnyoneInFromThisHostOnly() async throws {
        try await Harness.run { h in
            let first = try await h.request("/api/auth/dev-token", body: #"{"email":"dev@test.dev"}"#, key: nil)
            #expect(first.status == 200, "\(first.text)")
            let access = try #require(first.json?["access_token"] as? String)
            let me = try await h.request("/api/auth/me", method: .GET, key: access)
            #expect(me.json?["email"] as? String == "dev@test.dev")
            let second = try await h.request("/api/auth/dev-token", body: #"{"email":"dev@test.dev"}"#, key: nil)
            #expect((second.json?["user"] as? [String: Any])?["id"] as? NSNumber == me.json?["id"] as? NSNumber)
            #expect(try await h.request("/api/auth/dev-token", body: #"{"email":"not an address"}"#, key: nil).status == 400)
        }
        try await Harness.run(configure: { ProductionModeTests.production(&$0) }) { h in
            let reply = try await h.request("/api/auth/dev-token", body: #"{"email":"dev@test.dev"}"#, key: nil)
            #expect(reply.status == 404)
        }
        #expect(DevTokenRoutes.isLoopback("127.0.0.1"))
        #expect(DevTokenRoutes.isLoopback("::1"))
        #expect(!DevTokenRoutes.isLoopback("10.0.0.1"))
        #expect(!DevTokenRoutes.isLoopback("1270::1"))
        #expect(!DevTokenRoutes.isLoopback(nil))
    }

    static func load(_ yaml: String, environment: [String: String] = [:]) throws -> SluiceConfig {
        let path = NSTemporaryDirectory() + "signin-\(UUID().uuidString).yaml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        return try ConfigLoader.load(file: path, environment: environment)
    }

    @Test func ssoAndMailKeysAreReadAndBadCombinationsRefused() throws {
        let secretFile = NSTemporaryDirectory() + "gh-secret-\(UUID().uuidString)"
        try "from-a-file\n".write(toFile: secretFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: secretFile) }
        let config = try Self.load(
            """
            server: {public_url: "https://gw.example.com/"}
            auth:
              sso:
                github: {client_id: gh, client_secret_file: "\(secretFile)"}
                linuxdo: {client_id: ld, client_secret: s, min_trust_level: 2}
                oidc: {client_id: o, client_secret: s, issuer: "https://idp.example.com", scopes: "openid email"}
            email: {smtp_host: smtp.example.com, from: "Sluice <no@example.com>", verification: required, username: u, password: p}
            """, environment: ["SLUICE_EMAIL_SMTP_PORT": "2525"])
        #expect(config.server.baseURL == "https://gw.example.com")
        #expect(config.auth.sso.providers["github"]?.clientSecret == "from-a-file")
        #expect(config.auth.sso.providers["linuxdo"]?.minTrustLevel == 2)
        #expect(config.auth.sso.providers["oidc"]?.scopes == ["openid", "email"])
        #expect(config.auth.sso.enabled.keys.sorted() == ["github", "linuxdo", "oidc"])
        #expect(config.email.smtpPort == 2525)
        #expect(config.email.verification == .required)

        let refused = [
            "auth: {sso: {github: {client_id: gh}}}",
            "auth: {sso: {oidc: {client_id: o, client_secret: s}}}",
            "auth: {sso: {github: {issuer: x}}}",
            "auth: {sso: {linuxdo: {min_trust_level: 5}}}",
            "email: {smtp_host: h}",
            "email: {smtp_host: h, from: a@b.c, security: none, username: u}",
            "email: {verification: required}",
            "email: {security: ssl}",
            "email: {from: nobody}",
            "server: {public_url: gateway}",
        ]
        for yaml in refused {
            #expect(throws: ConfigLoader.Error.self, "\(yaml)") { try Self.load(yaml) }
        }
    }
}
