import Foundation
import SluiceCore
import Synchronization

/// Picks the account for one attempt, and keeps what picking weighs: each account's load and
/// recent figures (`AccountRuntime`), and which account serves each conversation
/// (`StickyBindings`). The order itself is `AccountSelection`'s, a pure function.
public final class AccountSelector: Sendable {
    /// Who is asking, for tiers and sticky routing.
    public struct Requester: Sendable {
        /// Whose credits pay: the key's owner, which for a team key is the team's wallet.
        public var userID: Int64
        /// For a team key, the member who made it: their own accounts come before the team's.
        public var memberUserID: Int64?
        public var preference: PoolPreference
        /// The conversation (see `ChatRequestSummary.sessionKey`), when there is one.
        public var session: UInt64?
        /// The allowance groups whose budget the requester has spent, with the seconds until each
        /// is usable again. Shared accounts of those groups do not serve them.
        public var closedSharedGroups: [String: Int]
        /// The tiers whose attempts this request has spent: their accounts are not offered again,
        /// so failing accounts of one tier cannot keep the request from the next.
        public var spentTiers: Set<PoolCandidate.Tier> = []

        public init(
            userID: Int64, memberUserID: Int64? = nil, preference: PoolPreference = .dedicatedFirst, session: UInt64? = nil,
            closedSharedGroups: [String: Int] = [:]
        ) {
            self.userID = userID
            self.memberUserID = memberUserID
            self.preference = preference
            self.session = session
            self.closedSharedGroups = closedSharedGroups
        }

        func mayUseSharedTier(group: String) -> Bool { preference != .dedicatedOnly && closedSharedGroups[group] == nil }

        func bindingKey(model: String) -> StickyBindings.Key? {
            session.map { StickyBindings.Key(userID: userID, session: $0, model: model) }
        }
    }

    /// What selection found.
    public enum Choice: Sendable {
        /// This account, now counted in flight, from this tier.
        case account(PoolAccount, PoolCandidate.Tier)
        /// Every remaining account is cooling; the earliest is back at this time.
        case cooling(until: Date)
        /// Every remaining account that could serve is running as many requests as it may: these.
        case busy(Set<Int64>)
        case none
    }

    struct State {
        var runtime: [Int64: AccountRuntime] = [:]
        var bindings: StickyBindings
        var rotation: UInt64 = 0
    }

    private let state: Mutex<State>
    /// A binding survives cooldowns of its account up to this long.
    private let stickyGrace: TimeInterval

    public init(stickyGrace: TimeInterval, stickyTTL: TimeInterval) {
        self.stickyGrace = stickyGrace
        state = Mutex(State(bindings: StickyBindings(ttl: stickyTTL)))
    }

    /// The next account to try for `model`, skipping `tried`, cooling and busy accounts; the one
    /// chosen is counted in flight until `release`.
    ///
    /// The tiers: the requester's own accounts are dedicated; for a team key, the team's accounts
    /// come next (the member's own stay dedicated); accounts without an owner are
    /// shared, and so are other owners' accounts in surplus mode while their headroom is above the
    /// owner's reserve. `AccountSelection` orders the candidates; an account bound to the
    /// requester's conversation goes first instead when it can serve and is in the tier the
    /// order starts with (a binding outranks priority, never the user's tier preference).
    public func choose(
        model: String, for requester: Requester, excluding tried: Set<Int64>, accounts: AccountRegistry.Snapshot,
        cooldowns: CooldownBook.View, now: Date
    ) -> Choice {
        state.withLock { state in
            var candidates: [PoolCandidate] = []
            var earliest: Date?
            var busy: Set<Int64> = []
            for account in accounts.accounts.values where account.models.contains(model) {
                let runtime = state.runtime[account.record.id] ?? AccountRuntime()
                guard let tier = Self.tier(of: account, for: requester, runtime: runtime), !requester.spentTiers.contains(tier) else { continue }
                if accounts.needsReauth.contains(account.record.id) { continue }
                // Tried accounts still count for the earliest recovery: they are cooling because of this request.
                if let until = cooldowns.coolingUntil(account.record.id, model: model, now: now) {
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
            if let chosen, let account = accounts.accounts[chosen.id] {
                state.runtime[chosen.id, default: AccountRuntime()].inFlight += 1
                return .account(account, chosen.tier)
            }
            if !busy.isEmpty { return .busy(busy) }
            return earliest.map { .cooling(until: $0) } ?? .none
        }
    }

    /// The tier `account` is in for `requester`, or nil when it may not serve them.
    static func tier(of account: PoolAccount, for requester: Requester, runtime: AccountRuntime) -> PoolCandidate.Tier? {
        let record = account.record
        let mayUseShared = requester.mayUseSharedTier(group: account.allowanceGroup)
        guard let owner = record.ownerUserID else { return mayUseShared ? .shared : nil }
        if owner == requester.memberUserID { return .dedicated }
        if owner == requester.userID { return requester.memberUserID == nil ? .dedicated : .team }
        guard mayUseShared, record.sharing.shareMode == .surplus else { return nil }
        // Unknown headroom counts as full until the provider reports it.
        let headroom = runtime.headroom ?? 1
        return headroom * 100 > Double(record.sharing.reservePercent) ? .shared : nil
    }

    /// The attempt on `accountID` ended: one request fewer in flight.
    public func release(_ accountID: Int64) {
        state.withLock { state in
            if let inFlight = state.runtime[accountID]?.inFlight, inFlight > 0 { state.runtime[accountID]?.inFlight = inFlight - 1 }
        }
    }

    /// A success: the figures learn it, and the requester's conversation is bound to the account
    /// unless it is bound to another that is only briefly away (see `StickyBindings.served`).
    /// `isAway` says whether an account is gone or cools past the grace. Returns the binding
    /// when it now names this account and did not before, for the other instances.
    public func recordSuccess(
        _ accountID: Int64, model: String, for requester: Requester?, timeToFirstByte: Double?, now: Date,
        isAway: (Int64, TimeInterval) -> Bool
    ) -> StickyBindings.Key? {
        state.withLock { state in
            state.runtime[accountID, default: AccountRuntime()].recordSuccess(timeToFirstByte: timeToFirstByte)
            guard let key = requester?.bindingKey(model: model) else { return nil }
            let bound = state.bindings.account(for: key, now: now)
            let away = bound.map { isAway($0, stickyGrace) } ?? true
            state.bindings.served(key, by: accountID, now: now, boundIsAway: away)
            return bound != accountID && state.bindings.account(for: key, now: now) == accountID ? key : nil
        }
    }

    /// A failure, and the seconds of cooldown it began, if any.
    public func recordFailure(_ accountID: Int64, _ failure: FailureClass, detail: String, cooldownBegan: Double?, now: Date) {
        state.withLock { state in
            var runtime = state.runtime[accountID] ?? AccountRuntime()
            runtime.recordFailure(failure, description: detail, at: now)
            if let cooldownBegan { runtime.recordCooldown(seconds: cooldownBegan) }
            state.runtime[accountID] = runtime
        }
    }

    /// What the provider said of the account's remaining quota.
    public func recordHeadroom(_ accountID: Int64, share: Double, resetsAt: Date?) {
        state.withLock { state in
            state.runtime[accountID, default: AccountRuntime()].headroom = min(share, 1)
            state.runtime[accountID, default: AccountRuntime()].quotaResetsAt = resetsAt
        }
    }

    /// Another instance bound a conversation.
    public func bind(_ key: StickyBindings.Key, to accountID: Int64, now: Date) {
        state.withLock { $0.bindings.served(key, by: accountID, now: now, boundIsAway: true) }
    }

    public func runtime(_ accountID: Int64) -> AccountRuntime { state.withLock { $0.runtime[accountID] ?? AccountRuntime() } }

    /// An admin's reset: figures and bindings start afresh; requests in flight still count.
    public func reset(_ accountID: Int64) {
        state.withLock { state in
            let inFlight = state.runtime[accountID]?.inFlight ?? 0
            state.runtime[accountID] = AccountRuntime()
            state.runtime[accountID]?.inFlight = inFlight
            state.bindings.forget(accountID: accountID)
        }
    }
}
