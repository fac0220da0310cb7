/// One account that could serve a request, as selection sees it.
public struct PoolCandidate: Sendable, Equatable {
    public enum Tier: Int, Sendable, Comparable {
        /// The requesting user's own accounts.
        case dedicated = 0
        case shared = 1
        public static func < (a: Tier, b: Tier) -> Bool { a.rawValue < b.rawValue }
    }

    public var id: Int64
    public var tier: Tier
    /// Higher first.
    public var priority: Int
    public var weight: Int
    /// Fraction of the account's quota left (0...1), when the provider told us.
    public var headroom: Double?

    public init(id: Int64, tier: Tier, priority: Int, weight: Int = 1, headroom: Double? = nil) {
        self.id = id
        self.tier = tier
        self.priority = priority
        self.weight = weight
        self.headroom = headroom
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
/// then higher priority first. Among equals the load is
/// spread: by weighted random draw on remaining quota where any is known, otherwise round-robin.
public enum AccountSelection {
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

    private static func spread<R: RandomNumberGenerator>(
        _ group: [PoolCandidate], rotation: UInt64, using rng: inout R
    ) -> [PoolCandidate] {
        guard group.count > 1 else { return group }
        let known = group.compactMap(\.headroom)
        guard !known.isEmpty else {
            let shift = Int(rotation % UInt64(group.count))
            return Array(group[shift...] + group[..<shift])
        }
        // Unknown headroom counts as the average of the known ones; a tiny floor keeps an exhausted
        // account last rather than never tried.
        let fallback = known.reduce(0, +) / Double(known.count)
        var remaining = group.map { ($0, max(($0.headroom ?? fallback) * Double(max($0.weight, 1)), 1e-6)) }
        var ordered: [PoolCandidate] = []
        while !remaining.isEmpty {
            let total = remaining.reduce(0) { $0 + $1.1 }
            var pick = Double.random(in: 0..<total, using: &rng)
            var index = remaining.count - 1
            for (i, entry) in remaining.enumerated() {
                if pick < entry.1 { index = i; break }
                pick -= entry.1
            }
            ordered.append(remaining.remove(at: index).0)
        }
        return ordered
    }
}
