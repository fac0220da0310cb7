import Foundation
import NIOHTTP1
import SluiceCore
import SluiceProviders

/// What the pool learns from each attempt: failures cool a scope, successes clear it and keep the
/// conversation bound, and every response's quota headers update the account's headroom.
extension AccountPool {
    /// Cools the failed scope and counts the failure in the account's figures.
    public func recordFailure(_ accountID: Int64, _ assessment: FailureAssessment, resetAt: Date?, detail: String? = nil) async {
        let now = clock.now()
        let jitter = resetAt == nil ? 0 : Double.random(in: 0...cooldowns.policy.resetJitter)
        let began = await cooldowns.recordFailure(accountID, assessment, resetAt: resetAt, jitter: jitter, now: now)
        selector.recordFailure(accountID, assessment.failure, detail: detail ?? assessment.failure.rawValue, cooldownBegan: began, now: now)
    }

    /// A success on `model` ends that model's cooldown (see `CooldownBook.recordSuccess`), and
    /// binds the requester's conversation to the account (see `AccountSelector.recordSuccess`).
    public func recordSuccess(_ accountID: Int64, model: String, for requester: Requester? = nil, timeToFirstByte: Double? = nil) async {
        let now = clock.now()
        let snapshot = registry.snapshot()
        let view = cooldowns.view()
        // A bound account is away when it is gone, needs re-auth, or cools for longer than the grace.
        let bound = selector.recordSuccess(accountID, model: model, for: requester, timeToFirstByte: timeToFirstByte, now: now) { bound, grace in
            guard snapshot.inRotation(bound) else { return true }
            return (view.coolingUntil(bound, model: model, now: now) ?? now).timeIntervalSince(now) > grace
        }
        if let bound { events.publish(.bound(bound, accountID: accountID)) }
        await cooldowns.recordSuccess(accountID, model: model, now: now)
    }

    /// Records what an upstream said about its remaining quota; selection weighs by it, and
    /// surplus sharing compares it with the owner's reserve. The tighter of the request and token
    /// limits counts, and the refill time of that limit. Runs on every response, so the header
    /// names are constants.
    public func recordHeadroom(_ accountID: Int64, headers: HTTPHeaders) {
        var tightest: (share: Double, resetsAt: Date?)?
        for limit in Self.quotaHeaders {
            guard let remaining = headers.first(name: limit.remaining).flatMap(Double.init),
                  let total = headers.first(name: limit.limit).flatMap(Double.init), total > 0, remaining >= 0
            else { continue }
            let share = remaining / total
            if share < tightest?.share ?? .infinity {
                // OpenAI's resets are durations (`6m0s`), Anthropic's are times (RFC 3339).
                let reset = headers.first(name: limit.reset)
                tightest = (share, reset.flatMap(Durations.parse).map { clock.now().addingTimeInterval($0) } ?? reset.flatMap(RFC3339.parse))
            }
        }
        guard let tightest else { return }
        selector.recordHeadroom(accountID, share: tightest.share, resetsAt: tightest.resetsAt)
        events.publish(.headroom(accountID: accountID, share: tightest.share, resetsAt: tightest.resetsAt))
    }

    /// What another instance learned about the pool; the store already has what it must keep.
    public func apply(_ event: ClusterEvent) {
        switch event {
        case .cooldown(let accountID, let scope, let cooldown): cooldowns.apply(accountID, scope: scope, cooldown)
        case .headroom(let accountID, let share, let resetsAt): selector.recordHeadroom(accountID, share: share, resetsAt: resetsAt)
        case .bound(let key, let accountID): selector.bind(key, to: accountID, now: clock.now())
        case .keyRevoked: break
        }
    }

    static let quotaHeaders = [
        (remaining: "x-ratelimit-remaining-requests", limit: "x-ratelimit-limit-requests", reset: "x-ratelimit-reset-requests"),
        (remaining: "x-ratelimit-remaining-tokens", limit: "x-ratelimit-limit-tokens", reset: "x-ratelimit-reset-tokens"),
        (remaining: "anthropic-ratelimit-requests-remaining", limit: "anthropic-ratelimit-requests-limit", reset: "anthropic-ratelimit-requests-reset"),
        (remaining: "anthropic-ratelimit-tokens-remaining", limit: "anthropic-ratelimit-tokens-limit", reset: "anthropic-ratelimit-tokens-reset"),
    ]
}
