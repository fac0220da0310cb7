import Foundation
import Logging
import NIOHTTP1
import ServiceLifecycle
import SluiceCore
import SluiceProviders
import SluiceStore
import Synchronization

/// The upstream accounts this process can use, with their runtime state.
///
/// Accounts are read from the store at start and then every `refreshInterval` by `run()`, off the
/// request path; secrets are decrypted once per read. Cooldowns are kept per scope (one model on
/// an account, or the whole account) in memory for selection, and written to the store when they
/// change, so a restart keeps the live ones. The same loop probes long cooldowns early (see
/// `verifyDue`). An account whose credential the provider rejected for good (*needs re-auth*)
/// stays out of rotation until its secret is updated.
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

    struct ScopeKey: Hashable {
        var accountID: Int64
        var scope: CooldownScope
    }

    struct State {
        var accounts: [Int64: Account] = [:]
        var cooldowns: [ScopeKey: CooldownState] = [:]
        var needsReauth: Set<Int64> = []
        var cooldownsLoaded = false
        /// Fraction of its request quota each account has left, from its last response headers.
        var headroom: [Int64: Double] = [:]
        var rotation: UInt64 = 0
    }

    let state = Mutex(State())
    let store: any AccountStore
    private let secrets: SecretBox
    private let catalog: ProviderCatalog
    let policy: CooldownPolicy
    private let refreshInterval: Duration
    let logger: Logger
    let prober = Mutex<Prober?>(nil)

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
        let records = try await store.enabledAccounts()
        let stored = state.withLock { $0.cooldownsLoaded } ? nil : try await store.liveCooldowns(now: Date())
        for record in records {
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
        state.withLock { state in
            state.accounts = accounts
            state.needsReauth = Set(records.filter(\.needsReauth).map(\.id))
            if let stored {
                for entry in stored { state.cooldowns[ScopeKey(accountID: entry.accountID, scope: entry.scope)] = entry.state }
                state.cooldownsLoaded = true
            }
        }
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
                await self.verifyDue(now: Date())
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
    public func next(
        model: String, userID: Int64, preference: PoolPreference = .dedicatedFirst, excluding tried: Set<Int64>, now: Date = Date()
    ) -> Pick {
        state.withLock { state in
            var candidates: [PoolCandidate] = []
            var earliest: Date?
            for account in state.accounts.values where account.models.contains(model) {
                if let owner = account.record.ownerUserID, owner != userID { continue }
                // Shared accounts do not exist for this user, not even as "cooling until".
                if preference == .dedicatedOnly, account.record.ownerUserID == nil { continue }
                if state.needsReauth.contains(account.record.id) { continue }
                // Tried accounts still count for the earliest recovery: they are cooling because of this request.
                if let until = state.coolingUntil(account.record.id, model: model, now: now) {
                    earliest = min(earliest ?? .distantFuture, until)
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
            if let first = AccountSelection.order(candidates, preference: preference, rotation: state.rotation, using: &rng).first,
               let account = state.accounts[first.id] {
                return .account(account)
            }
            return earliest.map { .cooling(until: $0) } ?? .none
        }
    }

    /// Cools the failed scope. Only a change is written to the store: the burst of concurrent
    /// failures that does not escalate the backoff writes nothing.
    public func recordFailure(_ accountID: Int64, _ assessment: FailureAssessment, resetAt: Date?, now: Date = Date()) async {
        let jitter = resetAt == nil ? 0 : Double.random(in: 0...policy.resetJitter)
        let key = ScopeKey(accountID: accountID, scope: assessment.scope)
        let changed: CooldownState? = state.withLock { state in
            var cooldown = state.cooldowns[key] ?? CooldownState()
            let changed = cooldown.recordFailure(assessment.failure, resetAt: resetAt, now: now, policy: policy, jitter: jitter)
            state.cooldowns[key] = cooldown
            return changed ? cooldown : nil
        }
        guard let changed else { return }
        logger.notice("upstream account cooling down", metadata: [
            "account": "\(accountID)", "scope": "\(assessment.scope.model ?? "account")", "reason": "\(assessment.failure.rawValue)",
            "seconds": "\(Int((changed.coolingUntil ?? now).timeIntervalSince(now).rounded(.up)))",
        ])
        await persist(key, changed)
    }

    /// A success on `model` ends that model's cooldown and backoff. The account-wide state is
    /// cleared only once it has stopped cooling: a request that was already running on another
    /// model when the account was cooled must not bring the account back.
    public func recordSuccess(_ accountID: Int64, model: String, now: Date = Date()) async {
        let cleared: [ScopeKey] = state.withLock { state in
            var cleared: [ScopeKey] = []
            let modelKey = ScopeKey(accountID: accountID, scope: .model(model))
            if state.cooldowns.removeValue(forKey: modelKey) != nil { cleared.append(modelKey) }
            let accountKey = ScopeKey(accountID: accountID, scope: .account)
            if let cooldown = state.cooldowns[accountKey], !cooldown.isCooling(at: now) {
                state.cooldowns[accountKey] = nil
                cleared.append(accountKey)
            }
            return cleared
        }
        for key in cleared { await persist(key, nil) }
    }

    public func cooldown(_ accountID: Int64, scope: CooldownScope = .account) -> CooldownState? {
        state.withLock { $0.cooldowns[ScopeKey(accountID: accountID, scope: scope)] }
    }

    /// Writes one scope's state (nil: deletes it). A failed write is logged: the in-memory state
    /// still rules this process, and the next change writes again.
    func persist(_ key: ScopeKey, _ cooldown: CooldownState?) async {
        do {
            if let cooldown {
                try await store.saveCooldown(accountID: key.accountID, scope: key.scope, cooldown)
            } else {
                try await store.deleteCooldown(accountID: key.accountID, scope: key.scope)
            }
        } catch {
            logger.warning("account cooldown could not be saved", metadata: ["account": "\(key.accountID)", "error": "\(error)"])
        }
    }

    /// Records what an upstream said about its remaining quota; selection weighs by it. The
    /// tighter of the request and token limits counts. Runs on every response, so the header
    /// names are constants.
    public func recordHeadroom(_ accountID: Int64, headers: HTTPHeaders) {
        var tightest: Double?
        for (remainingName, limitName) in Self.quotaHeaders {
            if let remaining = headers.first(name: remainingName).flatMap(Double.init),
               let limit = headers.first(name: limitName).flatMap(Double.init), limit > 0, remaining >= 0
            {
                tightest = min(tightest ?? 1, remaining / limit)
            }
        }
        guard let tightest else { return }
        state.withLock { $0.headroom[accountID] = tightest }
    }

    static let quotaHeaders = [
        ("x-ratelimit-remaining-requests", "x-ratelimit-limit-requests"),
        ("x-ratelimit-remaining-tokens", "x-ratelimit-limit-tokens"),
    ]

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

extension AccountPool.State {
    /// When `account` can serve `model` again: the later of its account-wide and its model
    /// cooldown, or nil when neither is cooling.
    func coolingUntil(_ accountID: Int64, model: String, now: Date) -> Date? {
        let scopes = [CooldownScope.account, .model(model)].compactMap { scope in
            cooldowns[AccountPool.ScopeKey(accountID: accountID, scope: scope)].flatMap { $0.isCooling(at: now) ? $0.coolingUntil : nil }
        }
        return scopes.max()
    }
}
