import Foundation

/// Why an upstream account failed, which decides how long it cools down.
public enum FailureClass: String, Sendable, Equatable {
    /// A 429 that is a rate limit: it clears within seconds.
    case rateLimited = "rate_limited"
    /// The account's quota is used up for a window.
    case quotaExhausted = "quota_exhausted"
    /// A 5xx, a timeout or a connect error.
    case transient = "transient"
}

/// How long cooldowns last when the provider gives no reset time.
public struct CooldownPolicy: Sendable, Equatable {
    public var base: TimeInterval = 1
    public var rateLimitedCap: TimeInterval = 8
    public var transientCap: TimeInterval = 60
    public var quotaCap: TimeInterval = 30 * 60
    /// Random extra time on an authoritative reset, so accounts do not all return in one instant.
    public var resetJitter: TimeInterval = 0.25

    public init() {}

    /// Exponential backoff: `base × 2^level`, capped per failure class.
    public func backoff(level: Int, for failure: FailureClass) -> TimeInterval {
        let cap: TimeInterval =
            switch failure {
            case .rateLimited: rateLimitedCap
            case .transient: transientCap
            case .quotaExhausted: quotaCap
            }
        let exponent = Double(min(max(level, 0), 40))
        return min(base * pow(2, exponent), cap)
    }
}

/// The cooldown of one account (or, later, one model on an account).
public struct CooldownState: Sendable, Equatable {
    public var coolingUntil: Date?
    public var level: Int = 0
    public var reason: FailureClass?

    public init(coolingUntil: Date? = nil, level: Int = 0, reason: FailureClass? = nil) {
        self.coolingUntil = coolingUntil
        self.level = level
        self.reason = reason
    }

    public func isCooling(at now: Date) -> Bool { (coolingUntil ?? .distantPast) > now }

    /// Records a failure. A provider reset time is authoritative. Without one the cooldown backs off
    /// exponentially, but only once per cooldown: failures that arrive while the account is already
    /// cooling (the burst of concurrent 429s) do not escalate the level again.
    public mutating func recordFailure(
        _ failure: FailureClass, resetAt: Date?, now: Date, policy: CooldownPolicy, jitter: TimeInterval = 0
    ) {
        reason = failure
        if let resetAt {
            let until = resetAt.addingTimeInterval(max(0, jitter))
            coolingUntil = max(coolingUntil ?? .distantPast, until)
            return
        }
        guard !isCooling(at: now) else { return }
        coolingUntil = now.addingTimeInterval(policy.backoff(level: level, for: failure))
        level += 1
    }

    public mutating func recordSuccess() {
        self = CooldownState()
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
