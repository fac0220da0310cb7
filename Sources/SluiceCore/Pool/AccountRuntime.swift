import Foundation

/// What one process has seen of one upstream account lately: load, reliability and speed for
/// selection, and counters for the admin view and `/metrics`. In memory only; a restart starts
/// each account afresh, which is right for figures that describe the recent past.
public struct AccountRuntime: Sendable, Equatable {
    /// Weight of the newest observation in the moving averages.
    public static let smoothing = 0.2

    public var inFlight = 0
    /// Exponentially weighted share of failed attempts (0...1).
    public var errorRate = 0.0
    /// Exponentially weighted time to the first byte of an answer, in seconds.
    public var timeToFirstByte: Double?
    /// Fraction of its quota the account has left, from its last response's headers.
    public var headroom: Double?
    /// When the provider said the account's quota refills, from its last response's headers.
    public var quotaResetsAt: Date?
    public var lastError: String?
    public var lastErrorAt: Date?
    public var requests = 0
    /// Failed attempts by `FailureClass` raw value.
    public var errors: [String: Int] = [:]
    public var cooldownsEntered = 0
    /// Seconds of cooldown this process has imposed on the account, summed at the time each began.
    public var secondsCooling = 0.0

    public init() {}

    public mutating func recordSuccess(timeToFirstByte seconds: Double?) {
        requests += 1
        errorRate *= 1 - Self.smoothing
        if let seconds {
            timeToFirstByte = timeToFirstByte.map { $0 + Self.smoothing * (seconds - $0) } ?? seconds
        }
    }

    public mutating func recordFailure(_ failure: FailureClass, description: String, at now: Date) {
        requests += 1
        errorRate += Self.smoothing * (1 - errorRate)
        errors[failure.rawValue, default: 0] += 1
        lastError = description
        lastErrorAt = now
    }

    public mutating func recordCooldown(seconds: Double) {
        cooldownsEntered += 1
        secondsCooling += max(0, seconds)
    }
}

/// Sticky routing: the account that last served a user's conversation keeps serving it, so the
/// upstream's prompt cache stays warm. A binding outlives short cooldowns of its account (a
/// transient failover does not rewrite it) and is dropped when it has not been used for `ttl`.
public struct StickyBindings: Sendable {
    /// A conversation with one model: a prompt cache does not carry over to another model.
    public struct Key: Hashable, Sendable {
        public var userID: Int64
        public var session: UInt64
        public var model: String

        public init(userID: Int64, session: UInt64, model: String) {
            self.userID = userID
            self.session = session
            self.model = model
        }
    }

    struct Binding {
        var accountID: Int64
        var lastUsed: Date
    }

    private var bindings: [Key: Binding] = [:]
    public let ttl: TimeInterval
    /// Bindings kept before idle ones are dropped, so many sessions cannot grow memory forever.
    public let capacity: Int

    public init(ttl: TimeInterval = 3600, capacity: Int = 100_000) {
        self.ttl = ttl
        self.capacity = capacity
    }

    public var count: Int { bindings.count }

    /// The account bound to `key`, if the binding is still fresh.
    public func account(for key: Key, now: Date) -> Int64? {
        guard let binding = bindings[key], now.timeIntervalSince(binding.lastUsed) < ttl else { return nil }
        return binding.accountID
    }

    /// Records that `accountID` served `key`. The binding moves only when the account bound so far
    /// cannot serve for longer than a short cooldown (`boundIsAway`): a failover around a blip keeps it.
    public mutating func served(_ key: Key, by accountID: Int64, now: Date, boundIsAway: Bool) {
        if let bound = account(for: key, now: now), bound != accountID, !boundIsAway { return }
        bindings[key] = Binding(accountID: accountID, lastUsed: now)
        if bindings.count > capacity {
            bindings = bindings.filter { now.timeIntervalSince($0.value.lastUsed) < ttl / 2 }
        }
    }

    /// Forgets every binding to `accountID` (an admin reset it, or it was removed).
    public mutating func forget(accountID: Int64) {
        bindings = bindings.filter { $0.value.accountID != accountID }
    }
}

/// A stable 64-bit FNV-1a hash: session keys are hashed to keep bindings small. Not for security:
/// a collision only shares an account between two conversations of the same user.
public enum SessionHash {
    public static func of(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return hash
    }
}
