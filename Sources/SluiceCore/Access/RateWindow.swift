import Foundation
import Synchronization

/// A sliding-window counter: the current fixed window plus the previous one weighted by how much of
/// it still overlaps the sliding window. Two integers per limit, accurate to a few percent, and
/// the same arithmetic a Redis implementation can run in a script.
///
/// The weighted share of the previous window is rounded up: a burst just before a window boundary
/// must still count in full just after it, or a limit of N would let an N+1th attempt through the
/// moment the clock crosses the boundary (the weight is then a hair under 1).
public struct SlidingWindow: Sendable, Equatable {
    public let length: Double
    var windowStart: Double = 0
    var current: Int = 0
    var previous: Int = 0

    public init(length: Double = 60) { self.length = length }

    /// Units counted in the sliding window that ends at `now`.
    public mutating func count(at now: Double) -> Double {
        roll(to: now)
        let overlap = 1 - (now - windowStart) / length
        return Double(current) + (Double(previous) * max(0, overlap)).rounded(.up)
    }

    public mutating func add(_ units: Int, at now: Double) {
        roll(to: now)
        current += units
    }

    /// Whether anything is still counted at `now`; idle windows can be dropped.
    public func isBusy(at now: Double) -> Bool {
        var copy = self
        return copy.count(at: now) > 0
    }

    /// Seconds until `count` drops below `limit` if nothing more is added, at least 1.
    public mutating func secondsUntilBelow(_ limit: Int, at now: Double) -> Int {
        var t = now
        var probe = self
        while probe.count(at: t) >= Double(limit), t - now < length * 2 { t += 1 }
        return max(1, Int((t - now).rounded(.up)))
    }

    mutating func roll(to now: Double) {
        let start = (now / length).rounded(.down) * length
        guard start != windowStart else { return }
        previous = start - windowStart == length ? current : 0
        current = 0
        windowStart = start
    }
}

public enum RateDecision: Sendable, Equatable {
    case allowed
    /// Over the named limit (`requests` or `tokens`); retry after that many seconds.
    case limited(limit: String, retryAfterSeconds: Int)
}

/// Per-key RPM and TPM limits. The in-process implementation is `LocalKeyRateLimiter`; a shared one
/// (Redis) implements the same protocol for several instances.
public protocol KeyRateLimiting: Sendable {
    /// Counts one request against the key's RPM, and refuses it if either limit is already reached.
    /// Throws when the shared windows cannot be reached: the gateway then fails closed.
    func admit(keyID: Int64, rpm: Int?, tpm: Int?, now: Double) async throws -> RateDecision
    /// Adds the tokens a request used to the key's TPM window. A window is not money: an
    /// implementation that cannot record the tokens logs that and goes on.
    func recordTokens(keyID: Int64, tokens: Int, now: Double) async
}

public final class LocalKeyRateLimiter: KeyRateLimiting {
    struct Windows {
        var requests = SlidingWindow()
        var tokens = SlidingWindow()
    }

    private let windows = Mutex([Int64: Windows]())

    public init() {}

    public func admit(keyID: Int64, rpm: Int?, tpm: Int?, now: Double) -> RateDecision {
        guard rpm != nil || tpm != nil else { return .allowed }
        return windows.withLock { all in
            var w = all[keyID] ?? Windows()
            defer { all[keyID] = w }
            if let rpm, w.requests.count(at: now) + 1 > Double(rpm) {
                return .limited(limit: "requests", retryAfterSeconds: w.requests.secondsUntilBelow(rpm, at: now))
            }
            if let tpm, w.tokens.count(at: now) >= Double(tpm) {
                return .limited(limit: "tokens", retryAfterSeconds: w.tokens.secondsUntilBelow(tpm, at: now))
            }
            w.requests.add(1, at: now)
            return .allowed
        }
    }

    public func recordTokens(keyID: Int64, tokens: Int, now: Double) {
        guard tokens > 0 else { return }
        windows.withLock { all in
            // Only keys that passed `admit` with a limit have windows; others are not tracked.
            all[keyID]?.tokens.add(tokens, at: now)
        }
    }
}
