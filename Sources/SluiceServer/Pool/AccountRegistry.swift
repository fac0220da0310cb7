import Foundation
import Logging
import SluiceCore
import SluiceProviders
import SluiceStore
import Synchronization

/// One usable account: its record, its opened credential and its provider.
public struct PoolAccount: Sendable {
    public var record: AccountRecord
    public var credential: UpstreamCredential
    public var manifest: ProviderManifest
    /// The models this account serves: the manifest's, narrowed by the account's own list.
    public var models: Set<String>
    /// Every call of the account goes through this proxy, never around it.
    public var proxy: UpstreamProxy?

    /// The shared-pool allowance group a request served here spends: the provider. The
    /// admission check reads the groups of the accounts that could serve
    /// (`AccountRegistry.sharedGroups(serving:)`), and selection skips a shared account whose group
    /// is closed, so the check and the spend always name the same bucket.
    public var allowanceGroup: String { manifest.id }

    /// Whether the account can be in anyone's shared tier: it has no owner, or its owner shares
    /// its surplus.
    public var mayServeSharedTier: Bool { record.ownerUserID == nil || record.sharing.shareMode == .surplus }

    public var target: UpstreamTarget {
        UpstreamTarget(baseURL: record.baseURL ?? manifest.baseURL, auth: manifest.auth, credential: credential)
    }
}

/// The accounts this process can use, read from the store with their secrets opened, and what can
/// be asked of them without runtime state: which models are served, at what price, in which
/// allowance groups. Accounts the provider rejected for good (*needs re-auth*) are listed too, to
/// keep them out of rotation until their secret changes.
public final class AccountRegistry: Sendable {
    public struct Snapshot: Sendable {
        public var accounts: [Int64: PoolAccount] = [:]
        public var needsReauth: Set<Int64> = []

        /// Whether `accountID` may be selected at all.
        func inRotation(_ accountID: Int64) -> Bool { accounts[accountID] != nil && !needsReauth.contains(accountID) }
    }

    private let state = Mutex(Snapshot())
    private let store: any AccountStore
    private let secrets: SecretBox
    private let catalog: ProviderCatalog
    /// The operator's public names for groups of models; every model question answers for them.
    let aliases: ModelAliases
    private let logger: Logger

    public init(store: any AccountStore, secrets: SecretBox, catalog: ProviderCatalog, aliases: ModelAliases = ModelAliases(), logger: Logger) {
        self.store = store
        self.secrets = secrets
        self.catalog = catalog
        self.aliases = aliases
        self.logger = logger
    }

    /// Re-reads accounts from the store, decrypting each secret once. Accounts whose provider or
    /// secret cannot be used are skipped with a warning that names the account, never the secret.
    public func reload() async throws {
        var accounts: [Int64: PoolAccount] = [:]
        let records = try await store.enabledAccounts()
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
            // An account whose proxy cannot be opened stays out: going direct would leave its egress address.
            let proxy: UpstreamProxy?
            do { proxy = try record.proxy.map { try UpstreamProxy(url: try secrets.open($0)) } } catch {
                logger.warning("account skipped: its proxy cannot be opened with the configured key, or is no proxy URL", metadata: [
                    "account": "\(record.id)",
                ])
                continue
            }
            let offered = Set(manifest.models.map(\.id))
            let models = record.models.isEmpty ? offered : offered.intersection(record.models)
            accounts[record.id] = PoolAccount(record: record, credential: credential, manifest: manifest, models: models, proxy: proxy)
        }
        state.withLock { state in
            // A secret rotated while the store was being read is newer than what the read returned.
            for (id, current) in state.accounts where current.record.secretGeneration > accounts[id]?.record.secretGeneration ?? .max {
                accounts[id]?.credential = current.credential
                accounts[id]?.record.secretGeneration = current.record.secretGeneration
            }
            state.accounts = accounts
            state.needsReauth = Set(records.filter(\.needsReauth).map(\.id))
        }
    }

    public func snapshot() -> Snapshot { state.withLock { $0 } }

    public func account(_ accountID: Int64) -> PoolAccount? { state.withLock { $0.accounts[accountID] } }

    public func needsReauth(_ accountID: Int64) -> Bool { state.withLock { $0.needsReauth.contains(accountID) } }

    func markNeedsReauth(_ accountID: Int64) { state.withLock { _ = $0.needsReauth.insert(accountID) } }

    struct SecretOfAnotherKind: Error {}

    func openCredential(_ kind: AccountKind, _ sealed: SealedSecret) throws -> UpstreamCredential {
        let secret = try secrets.open(sealed)
        switch kind {
        case .apiKey: return .apiKey(secret)
        case .cookie: return .cookie(secret)
        case .oauth:
            guard let tokens = OAuthTokens.parse(secret) else { throw SecretOfAnotherKind() }
            return .oauth(tokens)
        }
    }

    /// Takes the secret the store holds after a rotation, unless memory already has a later
    /// generation; returns the credential memory has after.
    @discardableResult
    func adopt(_ stored: StoredSecret, for accountID: Int64) -> UpstreamCredential? {
        guard let kind = state.withLock({ $0.accounts[accountID]?.record.kind }),
              let credential = try? openCredential(kind, stored.sealed)
        else { return nil }
        return state.withLock { state in
            guard var account = state.accounts[accountID] else { return nil }
            if stored.generation >= account.record.secretGeneration {
                account.credential = credential
                account.record.secretGeneration = stored.generation
                state.accounts[accountID] = account
            }
            return account.credential
        }
    }

    /// Changes the credential in memory only: for when the store cannot take a rotation, so this
    /// process keeps following the provider until it restarts.
    func updateCredentialInMemory(_ accountID: Int64, _ change: (UpstreamCredential) -> UpstreamCredential?) {
        state.withLock { state in
            guard let current = state.accounts[accountID]?.credential, let changed = change(current) else { return }
            state.accounts[accountID]?.credential = changed
        }
    }

    /// Every model some account serves, with the provider that offers it, and every alias with a
    /// target some account serves, as offered by `sluice`.
    public func servedModels() -> [(model: String, provider: String)] {
        state.withLock { state in
            var seen: [String: String] = [:]
            for account in state.accounts.values.sorted(by: { $0.record.id < $1.record.id }) {
                for model in account.models where seen[model] == nil { seen[model] = account.manifest.id }
            }
            for alias in aliases.byName.values where alias.targets.contains(where: { seen[$0.model] != nil }) {
                seen[alias.name] = "sluice"
            }
            return seen.map { ($0.key, $0.value) }.sorted { $0.model < $1.model }
        }
    }

    /// The limits a request for `model` is held at: no account that could serve it, for an alias
    /// through any target, may charge more. Nil when none serves it.
    public func modelLimits(_ model: String) -> ProviderManifest.Model? {
        // On the hot path: one target for a plain model, and no set built per account.
        let targets = aliases.everyTarget(of: model)
        return state.withLock { state in
            let served = state.accounts.values.flatMap { account in
                targets.filter(account.models.contains).compactMap { account.manifest.model($0) }
            }
            return ProviderManifest.Model.dearest(of: served, named: model)
        }
    }

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
        let targets = aliases.everyTarget(of: model)
        return state.withLock { state in
            Set(state.accounts.values.filter { account in account.mayServeSharedTier && targets.contains(where: account.models.contains) }
                .map(\.allowanceGroup))
        }
    }

    /// Whether the user shares an account of their own with the pool (the contributor bonus).
    public func isContributor(_ userID: Int64) -> Bool {
        state.withLock { state in
            state.accounts.values.contains { $0.record.ownerUserID == userID && $0.record.sharing.shareMode == .surplus }
        }
    }
}
