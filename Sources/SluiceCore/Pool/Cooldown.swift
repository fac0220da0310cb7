import Foundation

/// Why an upstream account failed, which decides how long it cools down.
public enum FailureClass: String, Sendable, Equatable, CaseIterable {
    /// A 429 that is a rate limit: it clears within seconds.
    case rateLimited = "rate_limited"
    /// The account's quota is used up for a window.
    case quotaExhausted = "quota_exhausted"
    /// A 5xx, a timeout or a connect error.
    case transient = "transient"
    /// The provider refused the credential (401). Verified before it is taken out for good.
    case unauthorized = "unauthorized"
    /// The provider does not serve this model to this account (404).
    case modelUnavailable = "model_unavailable"
}

/// What a cooldown covers: one model on an account, or the whole account.
public enum CooldownScope: Hashable, Sendable {
    case account
    case model(String)

    /// The model, or nil for the whole account: the form the store keeps.
    public var model: String? {
        if case .model(let model) = self { return model }
        return nil
    }

    public init(model: String?) { self = model.map { .model($0) } ?? .account }
}

/// How long cooldowns last when the provider gives no reset time.
public struct CooldownPolicy: Sendable, Equatable {
    public var base: TimeInterval = 1
    public var rateLimitedCap: TimeInterval = 8
    public var transientCap: TimeInterval = 60
    public var quotaCap: TimeInterval = 30 * 60
    /// Random extra time on an authoritative reset, so accounts do not all return in one instant.
    public var resetJitter: TimeInterval = 0.25
    /// Cooldowns longer than this are verified early by a probe request.
    public var verifyBeyond: TimeInterval = 15 * 60
    /// A backoff level with no failure for this long starts again from the bottom.
    public var levelDecay: TimeInterval = 10 * 60

    public init() {}

    /// When to probe a scope cooling until `until`: the earlier of `verifyBeyond` and a quarter of
    /// the remaining time; nil when the cooldown is short enough to wait out.
    public func verifyAt(coolingUntil until: Date, now: Date) -> Date? {
        let remaining = until.timeIntervalSince(now)
        guard remaining > verifyBeyond else { return nil }
        return now.addingTimeInterval(min(verifyBeyond, remaining / 4))
    }

    /// Exponential backoff: `base × 2^level`, capped per failure class.
    public func backoff(level: Int, for failure: FailureClass) -> TimeInterval {
        let cap: TimeInterval =
            switch failure {
            case .rateLimited: rateLimitedCap
            case .transient: transientCap
            case .quotaExhausted, .unauthorized, .modelUnavailable: quotaCap
            }
        let exponent = Double(min(max(level, 0), 40))
        return min(base * pow(2, exponent), cap)
    }
}

/// The cooldown of one scope: a model on an account, or the whole account.
public struct CooldownState: Sendable, Equatable {
    public var coolingUntil: Date?
    public var level: Int = 0
    public var reason: FailureClass?
    /// When a probe checks whether the provider reset early; nil for short cooldowns.
    public var verifyAt: Date?
    public var lastFailureAt: Date?

    public init(coolingUntil: Date? = nil, level: Int = 0, reason: FailureClass? = nil, verifyAt: Date? = nil, lastFailureAt: Date? = nil) {
        self.coolingUntil = coolingUntil
        self.level = level
        self.reason = reason
        self.verifyAt = verifyAt
        self.lastFailureAt = lastFailureAt
    }

    public func isCooling(at now: Date) -> Bool { (coolingUntil ?? .distantPast) > now }

    /// Records a failure. A provider reset time is authoritative. Without one the cooldown backs off
    /// exponentially, but only once per cooldown: failures that arrive while the account is already
    /// cooling (the burst of concurrent 429s) do not escalate the level again. A rejected
    /// credential is re-checked as soon as its first cooldown ends: if the provider still refuses
    /// it then, the account needs re-auth.
    /// Returns whether anything changed, so the caller persists only real changes.
    @discardableResult
    public mutating func recordFailure(
        _ failure: FailureClass, resetAt: Date?, now: Date, policy: CooldownPolicy, jitter: TimeInterval = 0
    ) -> Bool {
        let changed = cool(failure, resetAt: resetAt, now: now, policy: policy, jitter: jitter)
        lastFailureAt = now
        if failure == .unauthorized, let until = coolingUntil { verifyAt = min(verifyAt ?? until, until) }
        return changed
    }

    private mutating func cool(_ failure: FailureClass, resetAt: Date?, now: Date, policy: CooldownPolicy, jitter: TimeInterval) -> Bool {
        if let resetAt {
            let before = self
            let until = max(coolingUntil ?? .distantPast, resetAt.addingTimeInterval(max(0, jitter)))
            if until != coolingUntil { verifyAt = policy.verifyAt(coolingUntil: until, now: now) }
            coolingUntil = until
            reason = failure
            return self != before
        }
        guard !isCooling(at: now) else { return false }
        if let last = lastFailureAt, now.timeIntervalSince(last) > policy.levelDecay { level = 0 }
        let until = now.addingTimeInterval(policy.backoff(level: level, for: failure))
        coolingUntil = until
        verifyAt = policy.verifyAt(coolingUntil: until, now: now)
        reason = failure
        level += 1
        return true
    }

    /// Whether a probe should run now. A rejected credential is re-checked even once its cooldown
    /// is over: nothing else would tell a credential that works again from one that never will.
    public func isDueForVerification(at now: Date) -> Bool {
        guard let verifyAt, verifyAt <= now else { return false }
        return isCooling(at: now) || reason == .unauthorized
    }

    /// A probe found the provider still refusing: probe again later, while the wait is long.
    public mutating func verificationFailed(now: Date, policy: CooldownPolicy) {
        verifyAt = coolingUntil.flatMap { policy.verifyAt(coolingUntil: $0, now: now) }
    }
}

/// Parses `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3).
public enum RetryAfter {
    public static func parse(_ value: String, now: Date) -> Date? {
        let trimmed = value.trimmingCharactersInWhitespace()
        if let seconds = Double(trimmed), seconds.isFinite, seconds >= 0 {
            return now.addingTimeInterval(seconds)
        }
        return httpDate(trimmed)
    }

    public static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}
