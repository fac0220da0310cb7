import Foundation
import SluiceCore

/// Durable state, split by what each part of the gateway needs. `SQLiteStore` implements all of
/// them, and so does `PostgresStore`; both pass the same contract tests.
public protocol UserStore: Sendable {
    /// Creates the user, with a grant entry for initial credits. Throws `StoreConflict` for an
    /// email already taken (compared without case).
    func createUser(_ user: NewUser) async throws -> Int64
    func user(id: Int64) async throws -> UserRecord?
    func user(email: String) async throws -> UserRecord?
    /// The bcrypt hash to check a sign-in against; nil when the user has none.
    func passwordHash(userID: Int64) async throws -> String?
    func setUserStatus(id: Int64, _ status: UserStatus) async throws
    /// Applies the non-nil fields; returns the user as it is after, or nil if there is none.
    func updateUser(id: Int64, _ update: UserUpdate) async throws -> UserRecord?
    /// Users whose email contains `search` (any when nil), newest first.
    func users(search: String?, page: PageRequest) async throws -> [UserRecord]
}

extension UserStore {
    public func createUser(email: String, initialCredits: Credits) async throws -> Int64 {
        try await createUser(NewUser(email: email, initialCredits: initialCredits))
    }
}

/// A unique value (an email) is already taken.
public struct StoreConflict: Error, Equatable {
    public var field: String
    public init(field: String) { self.field = field }
}

public protocol APIKeyStore: Sendable {
    func createAPIKey(userID: Int64, name: String, keyHash: String, prefix: String, limits: APIKeyLimits) async throws -> Int64
    /// The key with this SHA-256 hex hash, revoked or not, with its owner's status.
    func apiKey(hash: String) async throws -> APIKeyRecord?
    /// The user's keys that are not revoked, newest first.
    func apiKeys(userID: Int64) async throws -> [APIKeyRecord]
    /// Revokes the key if `userID` owns it (any owner when nil). Returns the revoked key's hash,
    /// so caches can forget it, or nil when there was no such live key.
    func revokeAPIKey(id: Int64, userID: Int64?) async throws -> String?
    /// Spending limit minus what the key has spent, as written; nil when the key has no limit.
    func keySpendRemaining(keyID: Int64) async throws -> Credits?
}

/// Refresh tokens for `/api` sign-in: hashed, single use, rotated, revoked by family.
public protocol SessionStore: Sendable {
    func storeRefreshToken(userID: Int64, familyID: String, tokenHash: String, expiresAt: Date) async throws
    /// Uses the token and stores `successorHash` in its family, in one transaction.
    func rotateRefreshToken(tokenHash: String, successorHash: String, expiresAt: Date, now: Date) async throws -> RefreshRotation
    /// Revokes every token of one sign-in.
    func revokeSession(familyID: String) async throws
    /// Revokes every sign-in of the user (when an admin disables them).
    func revokeAllSessions(userID: Int64) async throws
    /// Whether the sign-in still stands: some token of the family is not revoked.
    func sessionIsLive(familyID: String) async throws -> Bool
}

/// Conversations the Responses API keeps for `previous_response_id`, per key, until they expire.
public protocol ResponseStore: Sendable {
    /// Keeps `messages` (JSON) under `id` for `apiKeyID` until `expiresAt`, and forgets what expired by `now`.
    func saveResponse(id: String, apiKeyID: Int64, messages: String, now: Date, expiresAt: Date) async throws
    /// The messages kept under `id` for `apiKeyID`; nil when there are none, they are another key's, or they expired.
    func storedResponse(id: String, apiKeyID: Int64, now: Date) async throws -> String?
}

/// Credit movements the API makes, beyond the request path's settlements.
public protocol CreditAdminStore: Sendable {
    func storedReply(scope: String, key: String) async throws -> StoredReply?
    /// Saves the reply unless one is stored for the key already; returns the one that is stored.
    func saveReply(scope: String, key: String, _ reply: StoredReply) async throws -> StoredReply
    func createRedemptionCode(_ code: NewRedemptionCode) async throws -> Int64
    /// Redeems in one transaction: the use count never passes the code's limit, and a user
    /// redeems one code once.
    func redeem(codeHash: String, userID: Int64, now: Date) async throws -> RedeemOutcome
    /// Redemption codes, newest first, with their uses; never the codes themselves.
    func redemptionCodes(page: PageRequest) async throws -> [RedemptionCodeRecord]
    /// Stops a code being redeemed (or lets it be again); nil when there is no such code.
    func setRedemptionCodeDisabled(id: Int64, disabled: Bool, now: Date) async throws -> RedemptionCodeRecord?
    func transactions(_ query: LedgerQuery) async throws -> [LedgerEntry]
}

public protocol ActivityStore: Sendable {
    func logActivity(_ entry: ActivityEntry) async throws
    func activity(userID: Int64, page: PageRequest) async throws -> [ActivityEntry]
}

public protocol UsageQueryStore: Sendable {
    func usage(_ query: UsageQuery) async throws -> [StoredUsage]
    func usageStats(_ query: UsageQuery) async throws -> UsageStats
}

public protocol AccountStore: Sendable {
    /// `proxy` is stored with the account in one write: an account meant to go through a proxy
    /// is never in the pool without it.
    func addAccount(
        provider: String, kind: AccountKind, baseURL: String?, models: [String], priority: Int, weight: Int,
        ownerUserID: Int64?, sharing: AccountSharing, secret: SealedSecret, proxy: SealedSecret?
    ) async throws -> Int64
    /// Accounts in rotation: enabled and not removed.
    func enabledAccounts() async throws -> [AccountRecord]
    /// Every account that is not removed, enabled or not; only those of `ownerUserID` when given.
    func accounts(ownerUserID: Int64?) async throws -> [AccountRecord]
    func account(id: Int64) async throws -> AccountRecord?
    /// Applies the non-nil fields; returns the account as it is after, or nil if there is none.
    func updateAccount(id: Int64, _ update: AccountUpdate) async throws -> AccountRecord?
    /// Takes the account out for good. Its usage rows keep naming it.
    func removeAccount(id: Int64) async throws
    /// Replaces an account's secret with one its owner or an admin gave. A new secret also clears
    /// *needs re-auth*: the owner has given the account a credential to try.
    func updateAccountSecret(id: Int64, _ secret: SealedSecret) async throws
    /// Replaces the secret with what `change` makes of the stored one, in one transaction, and
    /// returns the secret as stored afterwards (nil: no such account). `change` returns nil to
    /// leave it. For rotations, a refreshed cookie or token: deriving the new secret from the
    /// stored one means two writers cannot undo each other's change.
    func rotateAccountSecret(id: Int64, _ change: @Sendable (StoredSecret) throws -> SealedSecret?) async throws -> StoredSecret?
    /// Takes an account out of rotation until its secret is updated.
    func markNeedsReauth(accountID: Int64) async throws
    func saveCooldown(accountID: Int64, scope: CooldownScope, _ state: CooldownState) async throws
    func deleteCooldown(accountID: Int64, scope: CooldownScope) async throws
    /// Cooldowns still in force at `now`; expired ones are deleted, not returned.
    func liveCooldowns(now: Date) async throws -> [StoredCooldown]
}

extension AccountStore {
    public func addAccount(
        provider: String, kind: AccountKind, baseURL: String?, models: [String], priority: Int, weight: Int,
        ownerUserID: Int64?, secret: SealedSecret
    ) async throws -> Int64 {
        try await addAccount(
            provider: provider, kind: kind, baseURL: baseURL, models: models, priority: priority, weight: weight,
            ownerUserID: ownerUserID, sharing: AccountSharing(), secret: secret, proxy: nil)
    }

    public func addAccount(
        provider: String, kind: AccountKind, baseURL: String?, models: [String], priority: Int, weight: Int,
        ownerUserID: Int64?, sharing: AccountSharing, secret: SealedSecret
    ) async throws -> Int64 {
        try await addAccount(
            provider: provider, kind: kind, baseURL: baseURL, models: models, priority: priority, weight: weight,
            ownerUserID: ownerUserID, sharing: sharing, secret: secret, proxy: nil)
    }
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
    /// The entry written with this reference, if any.
    func ledgerEntry(referenceID: String) async throws -> LedgerEntry?
    /// Writes a batch of settled requests in one transaction: per request one usage row and, when it
    /// cost anything, one consume entry. A request id already written is skipped, so a replayed batch
    /// charges nothing twice. Returns the durable balance after each applied charge.
    func recordSettlements(_ records: [UsageRecord]) async throws -> [PersistedCharge]
    func ledger(userID: Int64) async throws -> [LedgerEntry]
    func usageLogs(userID: Int64) async throws -> [UsageRecord]
}

public protocol GatewayStore: UserStore, APIKeyStore, AccountStore, LedgerStore, SessionStore, SignInStore, TwoFactorStore, CreditAdminStore, ActivityStore,
    UsageQueryStore, ResponseStore, InFlightStore, PaymentStore, MeteringStore, ChatSessionStore, UserFileStore,
    WebhookStore, IdentityStore, MailOutboxStore, TeamStore
{
    /// A cheap query that proves the store answers, for /health.
    func ping() async throws
    /// Lets go of connections and background work; the store is not used afterwards.
    func close() async
}

extension GatewayStore {
    public func close() async {}
}
