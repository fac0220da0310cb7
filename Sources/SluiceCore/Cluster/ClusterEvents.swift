import Foundation

/// What one instance learns that the others must honour soon: a second at most. One instance has
/// no one to tell; several tell each other through Redis (`RedisClusterEvents`).
public enum ClusterEvent: Sendable, Equatable {
    /// An account scope's cooldown changed; nil when it was cleared.
    case cooldown(accountID: Int64, scope: CooldownScope, state: CooldownState?)
    /// The share of its quota an account has left, as its provider last reported it.
    case headroom(accountID: Int64, share: Double, resetsAt: Date?)
    /// A conversation was bound to an account (it was new, or its account was away).
    case bound(StickyBindings.Key, accountID: Int64)
    /// An API key was revoked: drop it from every key cache.
    case keyRevoked(hash: String)

    /// Events that replace an earlier one with the same identity; only the newest needs sending.
    public var coalescingKey: String? {
        switch self {
        case .headroom(let accountID, _, _): return "headroom:\(accountID)"
        case .bound(let key, _): return "bound:\(key.userID):\(key.session):\(key.model)"
        case .cooldown, .keyRevoked: return nil
        }
    }
}

/// Publishes what this instance learns. Never blocks and never fails the caller: an event that
/// cannot be sent is logged and dropped, and each has a fallback that bounds its staleness (the
/// store's cooldowns at the next start, the key cache's TTL, the next quota headers).
public protocol ClusterEvents: Sendable {
    func publish(_ event: ClusterEvent)
}

/// One instance: nobody else to tell.
public struct SoloInstance: ClusterEvents {
    public init() {}
    public func publish(_ event: ClusterEvent) {}
}
