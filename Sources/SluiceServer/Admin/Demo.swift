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

    /// Seeds a demo user with credits, an API key and one account on the demo upstream.
    public static func seed(_ gateway: Gateway) async throws -> String {
        let userID = try await gateway.store.createUser(email: "demo@sluice.local", initialCredits: Credits(whole: 100))
        let key = try await APIKeyIssuer.issue(store: gateway.store, userID: userID, name: "demo")
        _ = try await gateway.store.addAccount(
            provider: MockUpstream.ownedBy, kind: .apiKey, baseURL: nil, models: [], priority: 0, weight: 1, ownerUserID: nil,
            secret: try gateway.secrets.seal("demo-upstream-key"))
        return key.key
    }

    public static func banner(apiKey: String, host: String, port: Int, upstreamPort: Int) -> String {
        """
        Sluice demo is running on http://\(host):\(port) with the built-in demo upstream (not a real model).
        Demo upstream: http://127.0.0.1:\(upstreamPort)/v1
        API key: \(apiKey)
        Try:
          curl -N http://\(host):\(port)/v1/chat/completions -H "Authorization: Bearer \(apiKey)" -H "Content-Type: application/json" -d '{"model":"\(model)","stream":true,"messages":[{"role":"user","content":"Hello"}]}'
        """
    }
}
