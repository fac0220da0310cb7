import Foundation
import Logging
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceStore
import SluiceTestSupport

/// An account pool on a real SQLite store and a test clock, with no upstream: for the pool's
/// parts, whose rules need neither HTTP nor the wall clock.
struct PoolFixture {
    let store: any GatewayStore
    let secrets: SecretBox
    let clock = ManualClock()
    let pool: AccountPool

    static let manifest = ProviderManifest(
        id: "p", name: "P", baseURL: "http://127.0.0.1:9/v1", auth: .bearer,
        models: [
            .init(id: "m", contextWindow: 1000, maxOutputTokens: 100, price: Price(inputMicroUSDPerMillion: 1, outputMicroUSDPerMillion: 2, cachedInputMicroUSDPerMillion: 1)),
            .init(id: "n", contextWindow: 1000, maxOutputTokens: 100, price: Price(inputMicroUSDPerMillion: 1, outputMicroUSDPerMillion: 2, cachedInputMicroUSDPerMillion: 1)),
        ],
        oauth: .init(tokenURL: "http://127.0.0.1:9/oauth/token"))
    /// A second provider serving `m` dearer.
    static let dearer = ProviderManifest(
        id: "q", name: "Q", baseURL: "http://127.0.0.1:9/v1", auth: .bearer,
        models: [.init(id: "m", contextWindow: 1000, maxOutputTokens: 50, price: Price(inputMicroUSDPerMillion: 5, outputMicroUSDPerMillion: 9, cachedInputMicroUSDPerMillion: 5))])

    /// Runs `body` with a fresh fixture and closes its store afterwards.
    static func with(settings: AccountPool.Settings = .init(), _ body: (PoolFixture) async throws -> Void) async throws {
        try await withStore(.sqlite) { store in
            let secrets = try SecretBox(keys: [1: Data(repeating: 7, count: 32)], activeVersion: 1)
            let catalog = try ProviderCatalog([Self.manifest, Self.dearer])
            let fixture = PoolFixture(store: store, secrets: secrets, catalog: catalog, settings: settings)
            try await body(fixture)
        }
    }

    private init(store: any GatewayStore, secrets: SecretBox, catalog: ProviderCatalog, settings: AccountPool.Settings) {
        self.store = store
        self.secrets = secrets
        pool = AccountPool(
            store: store, secrets: secrets, catalog: catalog, settings: settings, refreshInterval: .seconds(3600), clock: clock,
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
    }

    /// A new user, to own accounts.
    func user() async throws -> Int64 { try await store.createUser(email: "\(UUID().uuidString)@test", initialCredits: .zero) }

    @discardableResult
    func account(
        _ secret: String, provider: String = "p", kind: AccountKind = .apiKey, priority: Int = 0, owner: Int64? = nil,
        models: [String] = [], sharing: AccountSharing = AccountSharing()
    ) async throws -> Int64 {
        let id = try await store.addAccount(
            provider: provider, kind: kind, baseURL: nil, models: models, priority: priority, weight: 1, ownerUserID: owner, sharing: sharing,
            secret: try secrets.seal(secret))
        try await pool.reload()
        return id
    }

    /// The account the pool lends next for `model`, released at once; nil when it lends none.
    func pick(_ model: String = "m", for requester: AccountPool.Requester = .init(userID: 1), excluding tried: Set<Int64> = []) -> Int64? {
        guard case .account(let lease) = pool.next(model: model, for: requester, excluding: tried) else { return nil }
        lease.release()
        return lease.account.record.id
    }
}
