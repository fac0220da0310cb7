import Foundation
import SluiceCore

/// Durable state, split by what each part of the gateway needs. `SQLiteStore` implements all of
/// them; a PostgreSQL store will implement the same protocols and pass the same tests.
public protocol UserStore: Sendable {
    func createUser(email: String, initialCredits: Credits) async throws -> Int64
    func user(id: Int64) async throws -> UserRecord?
    func setUserStatus(id: Int64, _ status: UserStatus) async throws
}

public protocol APIKeyStore: Sendable {
    func createAPIKey(userID: Int64, name: String, keyHash: String, prefix: String, allowedModels: [String]?, expiresAt: Date?) async throws -> Int64
    /// The key with this SHA-256 hex hash, revoked or not, with its owner's status.
    func apiKey(hash: String) async throws -> APIKeyRecord?
    func revokeAPIKey(id: Int64) async throws
}

public protocol AccountStore: Sendable {
    func addAccount(
        provider: String, kind: AccountKind, baseURL: String?, models: [String], priority: Int, weight: Int,
        ownerUserID: Int64?, secret: SealedSecret
    ) async throws -> Int64
    func enabledAccounts() async throws -> [AccountRecord]
    /// Replaces an account's secret, e.g. with a rotated cookie. A new secret also clears
    /// *needs re-auth*: the owner has given the account a credential to try.
    func updateAccountSecret(id: Int64, _ secret: SealedSecret) async throws
    /// Takes an account out of rotation until its secret is updated.
    func markNeedsReauth(accountID: Int64) async throws
    func saveCooldown(accountID: Int64, scope: CooldownScope, _ state: CooldownState) async throws
    func deleteCooldown(accountID: Int64, scope: CooldownScope) async throws
    /// Cooldowns still in force at `now`; expired ones are deleted, not returned.
    func liveCooldowns(now: Date) async throws -> [StoredCooldown]
}

/// One persisted cooldown.
public struct StoredCooldown: Sendable, Equatable {
    public var accountID: Int64
    public var scope: CooldownScope
    public var state: CooldownState

    public init(accountID: Int64, scope: CooldownScope, state: CooldownState) {
        self.accountID = accountID
        self.scope = scope
        self.state = state
    }
}

public protocol LedgerStore: Sendable {
    func balance(userID: Int64) async throws -> Credits?
    /// Adds credits with a ledger entry. Idempotent by `referenceID`: a repeat returns the first entry.
    func credit(userID: Int64, amount: Credits, kind: LedgerKind, referenceID: String, note: String?) async throws -> LedgerEntry
    /// Writes a batch of settled requests in one transaction: per request one usage row and, when it
    /// cost anything, one consume entry. A request id already written is skipped, so a replayed batch
    /// charges nothing twice. Returns the durable balance after each applied charge.
    func recordSettlements(_ records: [UsageRecord]) async throws -> [PersistedCharge]
    func ledger(userID: Int64) async throws -> [LedgerEntry]
    func usageLogs(userID: Int64) async throws -> [UsageRecord]
}

public protocol GatewayStore: UserStore, APIKeyStore, AccountStore, LedgerStore {
    /// A cheap query that proves the store answers, for /health.
    func ping() async throws
}
