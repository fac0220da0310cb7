import Foundation
import SluiceCore
import SluiceMockUpstream
import SluiceProviders
import SluiceStore

/// `sluice serve --demo`: a gateway that answers with no outside account.
public enum Demo {
    public static let model = "sluice-demo"

    /// The manifest of the built-in demo upstream listening on `port`.
    public static func manifest(port: Int) -> ProviderManifest {
        ProviderManifest(
            id: MockUpstream.ownedBy, name: "Sluice demo upstream (not a real model)", baseURL: "http://127.0.0.1:\(port)/v1",
            auth: .bearer,
            models: [
                .init(
                    id: model, contextWindow: 8192, maxOutputTokens: 1024,
                    price: Price(inputMicroUSDPerMillion: 1_000_000, outputMicroUSDPerMillion: 2_000_000, cachedInputMicroUSDPerMillion: 500_000))
            ])
    }

    /// A config for a throwaway demo: its own database under `directory` and a fresh encryption key.
    public static func config(base: SluiceConfig, directory: String) -> SluiceConfig {
        var config = base
        config.database.path = (directory as NSString).appendingPathComponent("demo.sqlite")
        config.security.encryptionKey = SecretBox.generateKeyBase64()
        return config
    }

    public static let email = "demo@sluice.local"

    /// What the demo prints: the demo user's API key, and the password that signs them in to the
    /// dashboard (an admin, so `/admin` can be tried too; the database is thrown away at exit).
    public struct Seeded: Sendable {
        public var apiKey: String
        public var password: String
    }

    /// Seeds a demo user with credits, an API key, a dashboard password and one account on the
    /// demo upstream.
    public static func seed(_ gateway: Gateway, passwordCost: Int) async throws -> Seeded {
        let password = AccessTokens.randomToken(bytes: 12)
        let userID = try await gateway.store.createUser(
            NewUser(
                email: email, passwordHash: try await PasswordHasher(cost: passwordCost).hash(password), role: .admin,
                initialCredits: Credits(whole: 100)))
        let key = try await APIKeyIssuer.issue(store: gateway.store, userID: userID, name: "demo")
        _ = try await gateway.store.addAccount(
            provider: MockUpstream.ownedBy, kind: .apiKey, baseURL: nil, models: [], priority: 0, weight: 1, ownerUserID: nil,
            secret: try gateway.secrets.seal("demo-upstream-key"))
        return Seeded(apiKey: key.key, password: password)
    }

    public static func banner(seeded: Seeded, host: String, port: Int, upstreamPort: Int) -> String {
        let apiKey = seeded.apiKey
        return """
        Sluice demo is running on http://\(host):\(port) with the built-in demo upstream (not a real model).
        Demo upstream: http://127.0.0.1:\(upstreamPort)/v1
        Dashboard: http://\(host):\(port)/ (sign in as \(email), password \(seeded.password); an admin, so /admin works too)
        API key: \(apiKey)
        Try:
          curl -N http://\(host):\(port)/v1/chat/completions -H "Authorization: Bearer \(apiKey)" -H "Content-Type: application/json" -d '{"model":"\(model)","stream":true,"messages":[{"role":"user","content":"Hello"}]}'
        """
    }
}
