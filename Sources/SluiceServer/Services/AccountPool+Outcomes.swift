import Foundation
import NIOHTTP1
import SluiceCore
import SluiceProviders

/// What the pool learns from each attempt: failures cool a scope, successes clear it and keep the
/// conversation bound, and every response's quota headers update the account's headroom.
extension AccountPool {
    /// Cools the failed scope. Only a change is written to the store: the burst of concurrent
    /// failures that does not escalate the backoff writes nothing.
    public func recordFailure(
        _ accountID: Int64, _ assessment: FailureAssessment, resetAt: Date?, detail: String? = nil, now: Date = Date()
    ) async {
        let jitter = resetAt == nil ? 0 : Double.random(in: 0...policy.resetJitter)
        let key = ScopeKey(accountID: accountID, scope: assessment.scope)
        let changed: CooldownState? = state.withLock { state in
            var cooldown = state.cooldowns[key] ?? CooldownState()
            let before = cooldown.coolingUntil
            let changed = cooldown.recordFailure(assessment.failure, resetAt: resetAt, now: now, policy: policy, jitter: jitter)
            state.cooldowns[key] = cooldown
            var runtime = state.runtime[accountID] ?? AccountRuntime()
            runtime.recordFailure(assessment.failure, description: detail ?? assessment.failure.rawValue, at: now)
            if changed, let until = cooldown.coolingUntil, until != before {
                runtime.recordCooldown(seconds: until.timeIntervalSince(max(now, before ?? now)))
            }
            state.runtime[accountID] = runtime
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
    ///
    /// The requester's conversation is bound to the account, unless it is bound to another that
    /// is only briefly away (see `StickyBindings.served`).
    public func recordSuccess(
        _ accountID: Int64, model: String, for requester: Requester? = nil, timeToFirstByte: Double? = nil, now: Date = Date()
    ) async {
        let cleared: [ScopeKey] = state.withLock { state in
            state.runtime[accountID, default: AccountRuntime()].recordSuccess(timeToFirstByte: timeToFirstByte)
            if let key = requester?.bindingKey(model: model) {
                let bound = state.bindings.account(for: key, now: now)
                let away = bound.map { state.isAway($0, model: model, now: now, grace: settings.stickyGrace) } ?? true
                state.bindings.served(key, by: accountID, now: now, boundIsAway: away)
                if bound != accountID, state.bindings.account(for: key, now: now) == accountID {
                    events.publish(.bound(key, accountID: accountID))
                }
            }
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

    /// Writes one scope's state (nil: deletes it) and tells the other instances. A failed write is
    /// logged: the in-memory state still rules this process, and the next change writes again.
    func persist(_ key: ScopeKey, _ cooldown: CooldownState?) async {
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

    /// Records what an upstream said about its remaining quota; selection weighs by it, and
    /// surplus sharing compares it with the owner's reserve. The tighter of the request and token
    /// limits counts, and the refill time of that limit. Runs on every response, so the header
    /// names are constants.
    public func recordHeadroom(_ accountID: Int64, headers: HTTPHeaders, now: Date = Date()) {
        var tightest: (share: Double, resetsAt: Date?)?
        for limit in Self.quotaHeaders {
            guard let remaining = headers.first(name: limit.remaining).flatMap(Double.init),
                  let total = headers.first(name: limit.limit).flatMap(Double.init), total > 0, remaining >= 0
            else { continue }
            let share = remaining / total
            if share < tightest?.share ?? .infinity {
                let resetIn = headers.first(name: limit.reset).flatMap(Durations.parse)
                tightest = (share, resetIn.map { now.addingTimeInterval($0) })
            }
        }
        guard let tightest else { return }
        applyHeadroom(accountID, share: tightest.share, resetsAt: tightest.resetsAt)
        events.publish(.headroom(accountID: accountID, share: tightest.share, resetsAt: tightest.resetsAt))
    }

    func applyHeadroom(_ accountID: Int64, share: Double, resetsAt: Date?) {
        state.withLock { state in
            state.runtime[accountID, default: AccountRuntime()].headroom = min(share, 1)
            state.runtime[accountID, default: AccountRuntime()].quotaResetsAt = resetsAt
        }
    }

    /// What another instance learned about the pool; the store already has what it must keep.
    public func apply(_ event: ClusterEvent, now: Date = Date()) {
        switch event {
        case .cooldown(let accountID, let scope, let cooldown):
            state.withLock { $0.cooldowns[ScopeKey(accountID: accountID, scope: scope)] = cooldown }
        case .headroom(let accountID, let share, let resetsAt):
            applyHeadroom(accountID, share: share, resetsAt: resetsAt)
        case .bound(let key, let accountID):
            state.withLock { $0.bindings.served(key, by: accountID, now: now, boundIsAway: true) }
        case .keyRevoked:
            break
        }
    }

    static let quotaHeaders = [
        (remaining: "x-ratelimit-remaining-requests", limit: "x-ratelimit-limit-requests", reset: "x-ratelimit-reset-requests"),
        (remaining: "x-ratelimit-remaining-tokens", limit: "x-ratelimit-limit-tokens", reset: "x-ratelimit-reset-tokens"),
    ]
}
