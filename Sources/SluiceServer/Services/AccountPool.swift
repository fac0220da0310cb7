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
/// request path; secrets are decrypted once per read. Cooldowns are kept per scope (one model on
/// an account, or the whole account) in memory for selection, and written to the store when they
/// change, so a restart keeps the live ones. The same loop probes long cooldowns early (see
/// `verifyDue`). An account whose credential the provider rejected for good (*needs re-auth*)
/// stays out of rotation until its secret is updated.
///
/// Selection (`next`) lends an account to one attempt as an `AccountLease`: the lease counts the
/// request in flight, which caps concurrency and feeds the score, until the request ends.
public final class AccountPool: Service {
    /// One usable account: its record, its opened credential and its provider.
    public struct Account: Sendable {
        public var record: AccountRecord
        public var credential: UpstreamCredential
        public var manifest: ProviderManifest
        /// The models this account serves: the manifest's, narrowed by the account's own list.
        public var models: Set<String>

        /// The shared-pool allowance group a request served here spends: the provider. The
        /// admission check reads the groups of the accounts that could serve (`sharedGroups(serving:)`),
        /// and selection skips a shared account whose group is closed, so the check and the spend
        /// always name the same bucket.
        public var allowanceGroup: String { manifest.id }

        public var target: UpstreamTarget {
            UpstreamTarget(baseURL: record.baseURL ?? manifest.baseURL, auth: manifest.auth, credential: credential)
        }
    }

    /// How selection treats sessions, cooldowns and busy accounts.
    public struct Settings: Sendable {
        /// A sticky binding survives cooldowns of its account up to this long.
        public var stickyGrace: TimeInterval = 10
        public var stickyTTL: TimeInterval = 3600
        /// Requests that may wait for a busy account at once; more are refused at once.
        public var maxQueued = 1000
        /// An OAuth access token is refreshed when it expires within this long.
        public var oauthRefreshAhead: TimeInterval = 300

        public init() {}
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
        var runtime: [Int64: AccountRuntime] = [:]
        var bindings: StickyBindings
        var rotation: UInt64 = 0
        var waiters = CapacityWaiters<CheckedContinuation<Bool, Never>>()
        var tokenRefreshes = SingleFlights<Int64, CheckedContinuation<UpstreamCredential?, Never>>()
    }

    let state: Mutex<State>
    let store: any AccountStore
    let secrets: SecretBox
    private let catalog: ProviderCatalog
    let policy: CooldownPolicy
    let settings: Settings
    private let refreshInterval: Duration
    let logger: Logger
    let prober = Mutex<Prober?>(nil)
    let tokenRefresher = Mutex<TokenRefresher?>(nil)
    /// Where cooldowns, headroom and bindings learned here go, for the other instances.
    let events: any ClusterEvents

    public init(
        store: any AccountStore, secrets: SecretBox, catalog: ProviderCatalog, policy: CooldownPolicy = CooldownPolicy(),
        settings: Settings = Settings(), refreshInterval: Duration, events: any ClusterEvents = SoloInstance(), logger: Logger
    ) {
        self.events = events
        self.store = store
        self.secrets = secrets
        self.catalog = catalog
        self.policy = policy
        self.settings = settings
        self.refreshInterval = refreshInterval
        self.logger = logger
        state = Mutex(State(bindings: StickyBindings(ttl: settings.stickyTTL)))
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
            let credential: UpstreamCredential
            do { credential = try openCredential(record.kind, record.secret) } catch {
                logger.warning("account skipped: its secret cannot be opened with the configured key, or is not its kind's", metadata: [
                    "account": "\(record.id)", "kind": "\(record.kind.rawValue)",
                ])
                continue
            }
            let offered = Set(manifest.models.map(\.id))
            let models = record.models.isEmpty ? offered : offered.intersection(record.models)
            accounts[record.id] = Account(record: record, credential: credential, manifest: manifest, models: models)
        }
        state.withLock { state in
            // A secret rotated while the store was being read is newer than what the read returned.
            for (id, current) in state.accounts where current.record.secretGeneration > accounts[id]?.record.secretGeneration ?? .max {
                accounts[id]?.credential = current.credential
                accounts[id]?.record.secretGeneration = current.record.secretGeneration
            }
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
                await self.refreshExpiringTokens(now: Date())
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
        case account(AccountLease)
        /// Every remaining account is cooling; the earliest is back at this time.
        case cooling(until: Date)
        /// Every remaining account that could serve is running as many requests as it may: these.
        case busy(Set<Int64>)
        case none
    }

    /// Who is asking, for tiers and sticky routing.
    public struct Requester: Sendable {
        public var userID: Int64
        public var preference: PoolPreference
        /// The conversation (see `ChatRequestSummary.sessionKey`), when there is one.
        public var session: UInt64?
        /// The allowance groups whose budget the requester has spent, with the seconds until each
        /// is usable again. Shared accounts of those groups do not serve them.
        public var closedSharedGroups: [String: Int]

        public init(
            userID: Int64, preference: PoolPreference = .dedicatedFirst, session: UInt64? = nil, closedSharedGroups: [String: Int] = [:]
        ) {
            self.userID = userID
            self.preference = preference
            self.session = session
            self.closedSharedGroups = closedSharedGroups
        }

        func mayUseSharedTier(group: String) -> Bool { preference != .dedicatedOnly && closedSharedGroups[group] == nil }

        func bindingKey(model: String) -> StickyBindings.Key? {
            session.map { StickyBindings.Key(userID: userID, session: $0, model: model) }
        }
    }

    /// Lends the next account to try for `model`, skipping `tried`, cooling and busy accounts.
    ///
    /// The tiers: the requester's own accounts are dedicated; accounts without an owner are
    /// shared, and so are other owners' accounts in surplus mode while their headroom is above the
    /// owner's reserve. `AccountSelection` orders the candidates; an account bound to the
    /// requester's conversation goes first instead when it can serve and is in the tier the
    /// order starts with (a binding outranks priority, never the user's tier preference).
    public func next(model: String, for requester: Requester, excluding tried: Set<Int64>, now: Date = Date()) -> Pick {
        state.withLock { state in
            var candidates: [PoolCandidate] = []
            var earliest: Date?
            var busy: Set<Int64> = []
            for account in state.accounts.values where account.models.contains(model) {
                let runtime = state.runtime[account.record.id] ?? AccountRuntime()
                guard let tier = Self.tier(of: account, for: requester, runtime: runtime) else { continue }
                if state.needsReauth.contains(account.record.id) { continue }
                // Tried accounts still count for the earliest recovery: they are cooling because of this request.
                if let until = state.coolingUntil(account.record.id, model: model, now: now) {
                    earliest = min(earliest ?? .distantFuture, until)
                    continue
                }
                if tried.contains(account.record.id) { continue }
                if let cap = account.record.sharing.maxConcurrency, runtime.inFlight >= cap {
                    busy.insert(account.record.id)
                    continue
                }
                candidates.append(PoolCandidate(
                    id: account.record.id, tier: tier, priority: account.record.priority, weight: account.record.weight,
                    headroom: runtime.headroom, resetIn: runtime.quotaResetsAt.map { $0.timeIntervalSince(now) },
                    errorRate: runtime.errorRate, inFlight: runtime.inFlight))
            }
            state.rotation &+= 1
            var rng = SystemRandomNumberGenerator()
            var chosen = AccountSelection.order(candidates, preference: requester.preference, rotation: state.rotation, using: &rng).first
            if let first = chosen, let key = requester.bindingKey(model: model), let bound = state.bindings.account(for: key, now: now),
               let candidate = candidates.first(where: { $0.id == bound }), candidate.tier == first.tier
            {
                chosen = candidate
            }
            if let chosen, let account = state.accounts[chosen.id] {
                state.runtime[chosen.id, default: AccountRuntime()].inFlight += 1
                return .account(AccountLease(account: account, tier: chosen.tier, pool: self))
            }
            if !busy.isEmpty { return .busy(busy) }
            return earliest.map { .cooling(until: $0) } ?? .none
        }
    }

    /// The tier `account` is in for `requester`, or nil when it may not serve them.
    static func tier(of account: Account, for requester: Requester, runtime: AccountRuntime) -> PoolCandidate.Tier? {
        let record = account.record
        let mayUseShared = requester.mayUseSharedTier(group: account.allowanceGroup)
        guard let owner = record.ownerUserID else { return mayUseShared ? .shared : nil }
        if owner == requester.userID { return .dedicated }
        guard mayUseShared, record.sharing.shareMode == .surplus else { return nil }
        // Unknown headroom counts as full until the provider reports it.
        let headroom = runtime.headroom ?? 1
        return headroom * 100 > Double(record.sharing.reservePercent) ? .shared : nil
    }

    public func cooldown(_ accountID: Int64, scope: CooldownScope = .account) -> CooldownState? {
        state.withLock { $0.cooldowns[ScopeKey(accountID: accountID, scope: scope)] }
    }
}

extension AccountPool.Account {
    /// Whether the account can be in anyone's shared tier: it has no owner, or its owner shares
    /// its surplus.
    var mayServeSharedTier: Bool { record.ownerUserID == nil || record.sharing.shareMode == .surplus }
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

    /// Whether a conversation bound to `accountID` should move: the account is gone, needs
    /// re-auth, or cools for longer than the grace a binding outlives.
    func isAway(_ accountID: Int64, model: String, now: Date, grace: TimeInterval) -> Bool {
        guard accounts[accountID] != nil, !needsReauth.contains(accountID) else { return true }
        return (coolingUntil(accountID, model: model, now: now) ?? now).timeIntervalSince(now) > grace
    }
}

extension AccountPool {
    /// Every allowance group some shared-tier account serves, with its models.
    public func sharedGroups() -> [String: Set<String>] {
        state.withLock { state in
            var groups: [String: Set<String>] = [:]
            for account in state.accounts.values where account.mayServeSharedTier {
                groups[account.allowanceGroup, default: []].formUnion(account.models)
            }
            return groups
        }
    }

    /// The allowance groups of the shared-tier accounts that serve `model`: those a request for
    /// it could spend.
    public func sharedGroups(serving model: String) -> Set<String> {
        state.withLock { state in
            Set(state.accounts.values.filter { $0.mayServeSharedTier && $0.models.contains(model) }.map(\.allowanceGroup))
        }
    }

    /// Whether the user shares an account of their own with the pool (the contributor bonus).
    public func isContributor(_ userID: Int64) -> Bool {
        state.withLock { state in
            state.accounts.values.contains { $0.record.ownerUserID == userID && $0.record.sharing.shareMode == .surplus }
        }
    }
}

extension AccountPool {
    /// What this process knows of one account right now, for the views.
    public struct AccountState: Sendable {
        public var runtime: AccountRuntime
        public var cooldowns: [(CooldownScope, CooldownState)]
        public var needsReauth: Bool
    }

    public func liveState(_ accountID: Int64) -> AccountState {
        state.withLock { state in
            let cooldowns = state.cooldowns.filter { $0.key.accountID == accountID }
                .map { ($0.key.scope, $0.value) }
                .sorted { ($0.0.model ?? "") < ($1.0.model ?? "") }
            return AccountState(
                runtime: state.runtime[accountID] ?? AccountRuntime(), cooldowns: cooldowns,
                needsReauth: state.needsReauth.contains(accountID))
        }
    }

    /// One account's figures for `/metrics`.
    public struct AccountFigures: Sendable {
        public var accountID: Int64
        public var provider: String
        public var runtime: AccountRuntime
        /// Whether the whole account or one of its models is cooling now.
        public var cooling: Bool
        public var needsReauth: Bool
    }

    /// Every account in rotation, by id.
    public func figures(now: Date = Date()) -> [AccountFigures] {
        state.withLock { state in
            state.accounts.values.sorted { $0.record.id < $1.record.id }.map { account in
                let id = account.record.id
                return AccountFigures(
                    accountID: id, provider: account.manifest.id, runtime: state.runtime[id] ?? AccountRuntime(),
                    cooling: state.cooldowns.contains { $0.key.accountID == id && $0.value.isCooling(at: now) },
                    needsReauth: state.needsReauth.contains(id))
            }
        }
    }

    /// Clears an account's cooldowns, backoff, figures and bindings (an admin's reset), in memory
    /// and in the store. *Needs re-auth* stays: only a new secret clears it.
    public func reset(_ accountID: Int64) async {
        let keys: [ScopeKey] = state.withLock { state in
            let keys = state.cooldowns.keys.filter { $0.accountID == accountID }
            for key in keys { state.cooldowns[key] = nil }
            let inFlight = state.runtime[accountID]?.inFlight ?? 0
            state.runtime[accountID] = AccountRuntime()
            state.runtime[accountID]?.inFlight = inFlight
            state.bindings.forget(accountID: accountID)
            return Array(keys)
        }
        for key in keys { await persist(key, nil) }
    }
}
