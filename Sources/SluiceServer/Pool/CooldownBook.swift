import Foundation
import Logging
import SluiceCore
import SluiceStore
import Synchronization

/// Which accounts are cooling, per scope (one model on an account, or the whole account): set by
/// failures, cleared by successes and verification probes. Changes are written to the store, so
/// a restart keeps the live ones, and told to the other instances. Concurrent failures that do
/// not escalate the backoff write nothing.
public final class CooldownBook: Sendable {
    public struct ScopeKey: Hashable, Sendable {
        public var accountID: Int64
        public var scope: CooldownScope
    }

    /// The cooldowns at one moment, for selection to read without holding the book's lock.
    public struct View: Sendable {
        var cooldowns: [ScopeKey: CooldownState]

        /// When the account can serve `model` again: the later of its account-wide and its model
        /// cooldown, or nil when neither is cooling.
        public func coolingUntil(_ accountID: Int64, model: String, now: Date) -> Date? {
            [CooldownScope.account, .model(model)].compactMap { scope in
                cooldowns[ScopeKey(accountID: accountID, scope: scope)].flatMap { $0.isCooling(at: now) ? $0.coolingUntil : nil }
            }.max()
        }

        /// Whether the whole account or one of its models is cooling.
        public func isCooling(_ accountID: Int64, now: Date) -> Bool {
            cooldowns.contains { $0.key.accountID == accountID && $0.value.isCooling(at: now) }
        }
    }

    struct State {
        var cooldowns: [ScopeKey: CooldownState] = [:]
        var loaded = false
    }

    private let state = Mutex(State())
    private let store: any AccountStore
    let policy: CooldownPolicy
    private let events: any ClusterEvents
    private let logger: Logger

    public init(store: any AccountStore, policy: CooldownPolicy, events: any ClusterEvents, logger: Logger) {
        self.store = store
        self.policy = policy
        self.events = events
        self.logger = logger
    }

    /// Reads the cooldowns still live in the store, once: after that, memory is ahead of it.
    public func loadIfNeeded(now: Date) async throws {
        guard !state.withLock({ $0.loaded }) else { return }
        let stored = try await store.liveCooldowns(now: now)
        state.withLock { state in
            guard !state.loaded else { return }
            for entry in stored { state.cooldowns[ScopeKey(accountID: entry.accountID, scope: entry.scope)] = entry.state }
            state.loaded = true
        }
    }

    public func view() -> View { View(cooldowns: state.withLock { $0.cooldowns }) }

    public func cooldown(_ accountID: Int64, scope: CooldownScope) -> CooldownState? {
        state.withLock { $0.cooldowns[ScopeKey(accountID: accountID, scope: scope)] }
    }

    /// Every scope of one account, model scopes by name.
    public func cooldowns(of accountID: Int64) -> [(CooldownScope, CooldownState)] {
        state.withLock { state in
            state.cooldowns.filter { $0.key.accountID == accountID }.map { ($0.key.scope, $0.value) }
                .sorted { ($0.0.model ?? "") < ($1.0.model ?? "") }
        }
    }

    /// Cools the failed scope. Returns the seconds of cooling this failure began (for the
    /// account's figures), nil when it began none. `jitter` spreads the ends of cooldowns that
    /// a provider's reset time would otherwise end all at once.
    @discardableResult
    public func recordFailure(_ accountID: Int64, _ assessment: FailureAssessment, resetAt: Date?, jitter: Double, now: Date) async -> Double? {
        let key = ScopeKey(accountID: accountID, scope: assessment.scope)
        let change: (state: CooldownState, began: Double?)? = state.withLock { state in
            var cooldown = state.cooldowns[key] ?? CooldownState()
            let before = cooldown.coolingUntil
            let changed = cooldown.recordFailure(assessment.failure, resetAt: resetAt, now: now, policy: policy, jitter: jitter)
            state.cooldowns[key] = cooldown
            guard changed else { return nil }
            guard let until = cooldown.coolingUntil, until != before else { return (cooldown, nil) }
            return (cooldown, until.timeIntervalSince(max(now, before ?? now)))
        }
        guard let (changed, began) = change else { return nil }
        logger.notice("upstream account cooling down", metadata: [
            "account": "\(accountID)", "scope": "\(assessment.scope.model ?? "account")", "reason": "\(assessment.failure.rawValue)",
            "seconds": "\(Int((changed.coolingUntil ?? now).timeIntervalSince(now).rounded(.up)))",
        ])
        await persist(key, changed)
        return began
    }

    /// A success on `model` ends that model's cooldown and backoff. The account-wide state is
    /// cleared only once it has stopped cooling: a request that was already running on another
    /// model when the account was cooled must not bring the account back.
    public func recordSuccess(_ accountID: Int64, model: String, now: Date) async {
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

    /// The scopes whose early verification is due, skipping accounts `skip` says not to probe.
    public func dueForVerification(now: Date, skip: (Int64) -> Bool) -> [ScopeKey] {
        state.withLock { state in
            state.cooldowns.filter { $0.value.isDueForVerification(at: now) && !skip($0.key.accountID) }.map(\.key)
        }
    }

    /// A probe found the scope working: its cooldown ends now.
    public func verified(_ key: ScopeKey) async {
        state.withLock { _ = $0.cooldowns.removeValue(forKey: key) }
        await persist(key, nil)
    }

    /// A probe found the scope still failing: the next probe comes later.
    public func verificationFailed(_ key: ScopeKey, now: Date) async {
        let updated: CooldownState? = state.withLock { state in
            state.cooldowns[key]?.verificationFailed(now: now, policy: policy)
            return state.cooldowns[key]
        }
        await persist(key, updated)
    }

    /// What another instance decided; the store already has it.
    public func apply(_ accountID: Int64, scope: CooldownScope, _ cooldown: CooldownState?) {
        state.withLock { $0.cooldowns[ScopeKey(accountID: accountID, scope: scope)] = cooldown }
    }

    /// Clears every scope of the account (an admin's reset).
    public func reset(_ accountID: Int64) async {
        let keys: [ScopeKey] = state.withLock { state in
            let keys = state.cooldowns.keys.filter { $0.accountID == accountID }
            for key in keys { state.cooldowns[key] = nil }
            return Array(keys)
        }
        for key in keys { await persist(key, nil) }
    }

    /// Writes one scope's state (nil: deletes it) and tells the other instances. A failed write is
    /// logged: the in-memory state still rules this process, and the next change writes again.
    private func persist(_ key: ScopeKey, _ cooldown: CooldownState?) async {
        events.publish(.cooldown(accountID: key.accountID, scope: key.scope, state: cooldown))
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
}
