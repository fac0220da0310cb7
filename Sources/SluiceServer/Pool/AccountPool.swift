import Foundation
import Logging
import ServiceLifecycle
import SluiceCore
import SluiceProviders
import SluiceStore
import Synchronization

/// The upstream accounts this process can use, with their runtime state: one front for the
/// pool's parts, each with a single job.
///
/// - `AccountRegistry`: the accounts, read from the store and their secrets opened, and the
///   questions about models and allowance groups.
/// - `CooldownBook`: cooldowns per scope, their backoff, persistence and verification times.
/// - `CredentialKeeper`: rotated cookies, OAuth refreshes, and the 401 rule.
/// - `AccountSelector`: the pick, the in-flight counts and figures it weighs, sticky bindings.
/// - `CapacityQueue`: requests waiting for a slot on a busy account.
///
/// The pool wires them: an outcome goes to the book and the figures, a released lease frees a
/// slot and wakes a waiter. `run()` re-reads accounts every `refreshInterval`, off the request
/// path, then probes due cooldowns and refreshes expiring tokens. Rules read the time from
/// `clock`.
public final class AccountPool: Service {
    public typealias Account = PoolAccount
    public typealias Requester = AccountSelector.Requester

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

    public let registry: AccountRegistry
    public let cooldowns: CooldownBook
    public let credentials: CredentialKeeper
    let selector: AccountSelector
    let capacity: CapacityQueue
    let clock: any WallClock
    let prober = Mutex<Prober?>(nil)
    /// Where cooldowns, headroom and bindings learned here go, for the other instances.
    let events: any ClusterEvents
    private let refreshInterval: Duration
    let logger: Logger

    public init(
        store: any AccountStore, secrets: SecretBox, catalog: ProviderCatalog, aliases: ModelAliases = ModelAliases(),
        policy: CooldownPolicy = CooldownPolicy(), settings: Settings = Settings(), refreshInterval: Duration, events: any ClusterEvents = SoloInstance(),
        clock: any WallClock = SystemClock(), logger: Logger
    ) {
        registry = AccountRegistry(store: store, secrets: secrets, catalog: catalog, aliases: aliases, logger: logger)
        cooldowns = CooldownBook(store: store, policy: policy, events: events, logger: logger)
        credentials = CredentialKeeper(
            registry: registry, store: store, secrets: secrets, refreshAhead: settings.oauthRefreshAhead, clock: clock, logger: logger)
        selector = AccountSelector(stickyGrace: settings.stickyGrace, stickyTTL: settings.stickyTTL)
        capacity = CapacityQueue(maxQueued: settings.maxQueued)
        self.clock = clock
        self.events = events
        self.refreshInterval = refreshInterval
        self.logger = logger
    }

    /// Re-reads accounts from the store, and at the first read the cooldowns still live.
    public func reload() async throws {
        try await cooldowns.loadIfNeeded(now: clock.now())
        try await registry.reload()
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
                await self.verifyDue(now: self.clock.now())
                await self.credentials.refreshExpiringTokens()
            }
        }
    }

    public enum Pick: Sendable {
        case account(AccountLease)
        /// Every remaining account is cooling; the earliest is back at this time.
        case cooling(until: Date)
        /// Every remaining account that could serve is running as many requests as it may: these.
        case busy(BusyAccounts)
        case none
    }

    /// Lends the next account to try for `model`, skipping `tried`, cooling and busy accounts
    /// (see `AccountSelector.choose`). The lease counts the request in flight until it ends.
    public func next(model: String, for requester: Requester, excluding tried: Set<Int64>) -> Pick {
        // Read before the choice: a slot freed while it runs then still wakes this request.
        let slotsFreed = capacity.slotsFreed
        let choice = selector.choose(
            model: model, for: requester, excluding: tried, accounts: registry.snapshot(), cooldowns: cooldowns.view(), now: clock.now())
        switch choice {
        case .account(let account, let tier): return .account(AccountLease(account: account, tier: tier, pool: self))
        case .cooling(let until): return .cooling(until: until)
        case .busy(let accounts): return .busy(BusyAccounts(accounts, slotsFreedBefore: slotsFreed))
        case .none: return .none
        }
    }

    /// A lease ended: the slot goes to the longest waiter for the account, if any.
    func release(_ accountID: Int64) {
        selector.release(accountID)
        capacity.slotFreed(on: accountID)
    }

    /// Waits until one of `busy` frees a slot, at most `timeout`; see `CapacityQueue`.
    public func waitForCapacity(on busy: BusyAccounts, timeout: Duration) async -> Bool {
        await capacity.waitForSlot(on: busy, timeout: timeout)
    }

    public func servedModels() -> [(model: String, provider: String)] { registry.servedModels() }
    /// The models to try for a request for `model`, in order: an alias's targets, or the model.
    public func targets(for model: String) -> [String] { registry.aliases.targets(for: model) }
    public func modelLimits(_ model: String) -> ProviderManifest.Model? { registry.modelLimits(model) }
    public func sharedGroups() -> [String: Set<String>] { registry.sharedGroups() }
    public func sharedGroups(serving model: String) -> Set<String> { registry.sharedGroups(serving: model) }
    public func isContributor(_ userID: Int64) -> Bool { registry.isContributor(userID) }
    public func needsReauth(_ accountID: Int64) -> Bool { registry.needsReauth(accountID) }

    public func cooldown(_ accountID: Int64, scope: CooldownScope = .account) -> CooldownState? {
        cooldowns.cooldown(accountID, scope: scope)
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
        AccountState(runtime: selector.runtime(accountID), cooldowns: cooldowns.cooldowns(of: accountID), needsReauth: needsReauth(accountID))
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
    public func figures() -> [AccountFigures] {
        let now = clock.now()
        let snapshot = registry.snapshot()
        let view = cooldowns.view()
        return snapshot.accounts.values.sorted { $0.record.id < $1.record.id }.map { account in
            let id = account.record.id
            return AccountFigures(
                accountID: id, provider: account.manifest.id, runtime: selector.runtime(id), cooling: view.isCooling(id, now: now),
                needsReauth: snapshot.needsReauth.contains(id))
        }
    }

    /// Clears an account's cooldowns, backoff, figures and bindings (an admin's reset), in memory
    /// and in the store. *Needs re-auth* stays: only a new secret clears it.
    public func reset(_ accountID: Int64) async {
        selector.reset(accountID)
        await cooldowns.reset(accountID)
    }
}
