import Foundation

/// One account that could serve a request, as selection sees it.
public struct PoolCandidate: Sendable, Equatable {
    public enum Tier: Int, Sendable, Comparable {
        /// The requesting user's own accounts.
        case dedicated = 0
        /// For a team key: the team's accounts, after the member's own.
        case team = 1
        /// Shared accounts, and other owners' accounts in share-surplus mode above their reserve.
        case shared = 2
        public static func < (a: Tier, b: Tier) -> Bool { a.rawValue < b.rawValue }
    }

    public var id: Int64
    public var tier: Tier
    /// Higher first.
    public var priority: Int
    public var weight: Int
    /// Fraction of the account's quota left (0...1), when the provider told us.
    public var headroom: Double?
    /// Seconds until the provider refills the account's quota, when it told us.
    public var resetIn: TimeInterval?
    /// Recent share of failed requests (0...1), an exponentially weighted average.
    public var errorRate: Double
    /// Requests this process is running on the account now.
    public var inFlight: Int

    public init(
        id: Int64, tier: Tier, priority: Int, weight: Int = 1, headroom: Double? = nil, resetIn: TimeInterval? = nil,
        errorRate: Double = 0, inFlight: Int = 0
    ) {
        self.id = id
        self.tier = tier
        self.priority = priority
        self.weight = weight
        self.headroom = headroom
        self.resetIn = resetIn
        self.errorRate = errorRate
        self.inFlight = inFlight
    }
}

/// Which tier a user's requests try first. `dedicated_only` never uses the shared pool.
public enum PoolPreference: String, Sendable, Codable, CaseIterable {
    case dedicatedOnly = "dedicated_only"
    case dedicatedFirst = "dedicated_first"
    case sharedFirst = "shared_first"
}

/// The order in which to try accounts for one request.
///
/// The preferred tier comes first (dedicated accounts, unless the user prefers the shared pool),
/// then higher priority first: a tier or a priority group is never mixed with the next. Inside a
/// group the load is spread by `score`, and the next account is drawn at random among the best
/// `topFew`, weighted by score, so traffic does not herd onto one account. When nothing tells the
/// accounts of a group apart (no quota figures, no errors, nothing in flight) they take turns.
public enum AccountSelection {
    /// How many of the best-scored accounts a draw chooses among.
    public static let topFew = 3

    public static func order<R: RandomNumberGenerator>(
        _ candidates: [PoolCandidate], preference: PoolPreference = .dedicatedFirst, rotation: UInt64, using rng: inout R
    ) -> [PoolCandidate] {
        func rank(_ tier: PoolCandidate.Tier) -> Int { preference == .sharedFirst ? -tier.rawValue : tier.rawValue }
        // `dedicatedOnly` callers pass no shared candidates; ordering is the same as dedicated-first.
        let sorted = candidates.sorted {
            (rank($0.tier), -$0.priority, $0.id) < (rank($1.tier), -$1.priority, $1.id)
        }
        var result: [PoolCandidate] = []
        result.reserveCapacity(sorted.count)
        var start = 0
        while start < sorted.count {
            var end = start + 1
            while end < sorted.count && sorted[end].tier == sorted[start].tier && sorted[end].priority == sorted[start].priority {
                end += 1
            }
            result += spread(Array(sorted[start..<end]), rotation: rotation, using: &rng)
            start = end
        }
        return result
    }

    /// How much of the next request an account should take, relative to its group:
    /// - its weight, times the share of quota it has left (an exhausted account keeps a tiny
    ///   share, so it is tried last rather than never);
    /// - up to twice as much when its quota refills within about a minute: quota that resets soon
    ///   is spent first, since it is lost otherwise;
    /// - less as it fails more often;
    /// - divided among the requests already running on it.
    public static func score(_ candidate: PoolCandidate, unknownHeadroom: Double) -> Double {
        let headroom = max(candidate.headroom ?? unknownHeadroom, 1e-3)
        let urgency = candidate.resetIn.map { 1 + 1 / (1 + max($0, 0) / 60) } ?? 1
        let reliability = 1 - min(max(candidate.errorRate, 0), 0.95)
        return Double(max(candidate.weight, 1)) * headroom * urgency * reliability / Double(1 + max(candidate.inFlight, 0))
    }

    private static func spread<R: RandomNumberGenerator>(
        _ group: [PoolCandidate], rotation: UInt64, using rng: inout R
    ) -> [PoolCandidate] {
        guard group.count > 1 else { return group }
        // Unknown headroom counts as the average of the known ones.
        let known = group.compactMap(\.headroom)
        let unknownHeadroom = known.isEmpty ? 1 : known.reduce(0, +) / Double(known.count)
        var remaining = group.map { ($0, score($0, unknownHeadroom: unknownHeadroom)) }
        if remaining.allSatisfy({ $0.1 == remaining[0].1 }) {
            let shift = Int(rotation % UInt64(group.count))
            return Array(group[shift...] + group[..<shift])
        }
        remaining.sort { ($0.1, -$0.0.id) > ($1.1, -$1.0.id) }
        var ordered: [PoolCandidate] = []
        while !remaining.isEmpty {
            let pool = remaining.prefix(topFew)
            let total = pool.reduce(0) { $0 + $1.1 }
            var pick = Double.random(in: 0..<total, using: &rng)
            var index = pool.count - 1
            for (i, entry) in pool.enumerated() {
                if pick < entry.1 { index = i; break }
                pick -= entry.1
            }
            ordered.append(remaining.remove(at: index).0)
        }
        return ordered
    }
}
