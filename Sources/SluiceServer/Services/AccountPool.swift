import Foundation
import Logging
import ServiceLifecycle
import SluiceCore
import SluiceProviders
import SluiceStore
import Synchronization

/// The upstream accounts this process can use, with their runtime state.
///
/// Accounts are read from the store at start and then every `refreshInterval` by `run()`, off the
/// request path; secrets are decrypted once per read. Cooldowns live here, in memory, and survive
/// refreshes.
public final class AccountPool: Service {
    /// One usable account: its record, its opened credential and its provider.
    public struct Account: Sendable {
        public var record: AccountRecord
        public var credential: UpstreamCredential
        public var manifest: ProviderManifest
        /// The models this account serves: the manifest's, narrowed by the account's own list.
        public var models: Set<String>

        public var target: UpstreamTarget {
            UpstreamTarget(baseURL: record.baseURL ?? manifest.baseURL, auth: manifest.auth, credential: credential)
        }
    }

    struct State {
        var accounts: [Int64: Account] = [:]
        var cooldowns: [Int64: CooldownState] = [:]
        /// Fraction of its request quota each account has left, from its last response headers.
        var headroom: [Int64: Double] = [:]
        var rotation: UInt64 = 0
    }

    private let state = Mutex(State())
    private let store: any AccountStore
    private let secrets: SecretBox
    private let catalog: ProviderCatalog
    private let policy: CooldownPolicy
    private let refreshInterval: Duration
    private let logger: Logger

    public init(
        store: any AccountStore, secrets: SecretBox, catalog: ProviderCatalog, policy: CooldownPolicy = CooldownPolicy(),
        refreshInterval: Duration, logger: Logger
    ) {
        self.store = store
        self.secrets = secrets
        self.catalog = catalog
        self.policy = policy
        self.refreshInterval = refreshInterval
        self.logger = logger
    }

    /// Re-reads accounts from the store. Accounts whose provider or secret cannot be used are skipped
    /// with a warning that names the account, never the secret.
    public func reload() async throws {
        var accounts: [Int64: Account] = [:]
        for record in try await store.enabledAccounts() {
            guard let manifest = catalog[record.provider] else {
                logger.warning("account skipped: unknown provider", metadata: ["account": "\(record.id)", "provider": "\(record.provider)"])
                continue
            }
            let secret: String
            do { secret = try secrets.open(record.secret) } catch {
                logger.warning("account skipped: secret cannot be decrypted with the configured key", metadata: ["account": "\(record.id)"])
                continue
            }
            let offered = Set(manifest.models.map(\.id))
            let models = record.models.isEmpty ? offered : offered.intersection(record.models)
            let credential: UpstreamCredential = record.kind == .cookie ? .cookie(secret) : .apiKey(secret)
            accounts[record.id] = Account(record: record, credential: credential, manifest: manifest, models: models)
        }
        state.withLock { $0.accounts = accounts }
    }

    public func run() async throws {
        // Refreshes until shutdown, which interrupts the sleep at once; a failed read keeps the
        // accounts we have.
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: self.refreshInterval)
                do { try await self.reload() } catch is CancellationError { return } catch {
                    self.logger.warning("account refresh failed", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// Every model some account serves, with the provider that offers it.
    public func servedModels() -> [(model: String, provider: String)] {
        state.withLock { state in
            var seen: [String: String] = [:]
            for account in state.accounts.values.sorted(by: { $0.record.id < $1.record.id }) {
                for model in account.models where seen[model] == nil { seen[model] = account.manifest.id }
            }
            return seen.map { ($0.key, $0.value) }.sorted { $0.model < $1.model }
        }
    }

    /// The highest price any account would charge for `model`, for the hold; nil if none serves it.
    public func modelLimits(_ model: String) -> ProviderManifest.Model? {
        state.withLock { state in
            state.accounts.values.filter { $0.models.contains(model) }.compactMap { $0.manifest.model(model) }
                .max { ($0.price.outputMicroUSDPerMillion, $0.price.inputMicroUSDPerMillion) < ($1.price.outputMicroUSDPerMillion, $1.price.inputMicroUSDPerMillion) }
        }
    }

    public enum Pick: Sendable {
        case account(Account)
        /// Every remaining account is cooling; the earliest is back at this time.
        case cooling(until: Date)
        case none
    }

    /// The next account to try for `model` and `userID`, skipping `tried` and cooling accounts.
    public func next(model: String, userID: Int64, excluding tried: Set<Int64>, now: Date = Date()) -> Pick {
        state.withLock { state in
            var candidates: [PoolCandidate] = []
            var earliest: Date?
            for account in state.accounts.values where account.models.contains(model) {
                if let owner = account.record.ownerUserID, owner != userID { continue }
                // Tried accounts still count for the earliest recovery: they are cooling because of this request.
                if let cooldown = state.cooldowns[account.record.id], cooldown.isCooling(at: now) {
                    earliest = min(earliest ?? .distantFuture, cooldown.coolingUntil ?? now)
                    continue
                }
                if tried.contains(account.record.id) { continue }
                candidates.append(PoolCandidate(
                    id: account.record.id, tier: account.record.ownerUserID == nil ? .shared : .dedicated,
                    priority: account.record.priority, weight: account.record.weight,
                    headroom: state.headroom[account.record.id]))
            }
            state.rotation &+= 1
            var rng = SystemRandomNumberGenerator()
            if let first = AccountSelection.order(candidates, rotation: state.rotation, using: &rng).first,
               let account = state.accounts[first.id] {
                return .account(account)
            }
            return earliest.map { .cooling(until: $0) } ?? .none
        }
    }

    public func recordFailure(_ accountID: Int64, _ failure: FailureClass, resetAt: Date?, now: Date = Date()) {
        let jitter = resetAt == nil ? 0 : Double.random(in: 0...policy.resetJitter)
        state.withLock { state in
            var cooldown = state.cooldowns[accountID] ?? CooldownState()
            cooldown.recordFailure(failure, resetAt: resetAt, now: now, policy: policy, jitter: jitter)
            state.cooldowns[accountID] = cooldown
        }
        logger.notice("upstream account cooling down", metadata: ["account": "\(accountID)", "reason": "\(failure.rawValue)"])
    }

    public func recordSuccess(_ accountID: Int64) {
        state.withLock { state in
            if state.cooldowns[accountID] != nil { state.cooldowns[accountID] = nil }
        }
    }

    public func cooldown(_ accountID: Int64) -> CooldownState? { state.withLock { $0.cooldowns[accountID] } }

    /// Records what an upstream said about its remaining request quota; selection weighs by it.
    public func recordHeadroom(_ accountID: Int64, remaining: Double, limit: Double) {
        guard limit > 0, remaining >= 0 else { return }
        state.withLock { $0.headroom[accountID] = min(remaining / limit, 1) }
    }

    /// Stores a rotated session cookie, in memory at once and encrypted in the store.
    public func rotateCookie(_ accountID: Int64, setCookies: [String]) async {
        let merged: String? = state.withLock { state in
            guard var account = state.accounts[accountID], case .cookie(let current) = account.credential else { return nil }
            let merged = CookieJar.merge(cookieHeader: current, setCookies: setCookies)
            guard merged != current else { return nil }
            account.credential = .cookie(merged)
            state.accounts[accountID] = account
            return merged
        }
        guard let merged else { return }
        do {
            try await store.updateAccountSecret(id: accountID, try secrets.seal(merged))
        } catch {
            logger.error("rotated cookie could not be saved", metadata: ["account": "\(accountID)", "error": "\(type(of: error))"])
        }
    }
}
