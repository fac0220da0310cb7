import Foundation
import Logging
import SluiceCore
import Synchronization

/// `PoolAllowances` shared by every instance: each user's `RecoveringBudget` per model group is a
/// Redis hash (`level`, `at`), read and spent by one script with the same arithmetic as
/// `LocalPoolAllowances`. A budget that has recovered in full expires, since absent means full.
///
/// Each instance keeps, per user and group, the stored state of its last exchange with Redis plus
/// its own spends since, and answers reads from it for `syncInterval` after that exchange. A
/// request reads its user's allowance before it holds credits and spends it after it settles, so
/// while a user is active their reads never reach Redis. Spends are counted here at once and sent
/// with the settlement writer's batches (`flushSpends`): one script per user and group per batch,
/// off the request path. What an instance cannot see is other instances' spends since its last
/// exchange, so across instances an allowance can close up to `syncInterval` (plus a batch) late.
/// An allowance is fairness, not money; credits are never read or spent this way.
public final class RedisPoolAllowances: PoolAllowances {
    /// How long a mirrored state answers reads, in the seconds of the `now` the callers pass.
    static let syncInterval: Double = 1
    /// The mirror drops its stale entries when it reaches this many (then twice what is left).
    static let pruneThreshold = 4096

    private struct Key: Hashable {
        var userID: Int64
        var group: String
    }

    /// A budget as Redis stores it (`level` at time `at`, before recovery) with this instance's
    /// unsent spends applied, and when Redis last answered for it.
    private struct Mirrored {
        var level: Double
        var at: Double
        var syncedAt: Double
    }

    /// Spends not yet sent: their total, at the time of the first, under the latest terms.
    private struct Unsent {
        var terms: AllowanceTerms
        var units: Int
        var at: Double
    }

    private struct State {
        var mirror: [Key: Mirrored] = [:]
        var pruneAt = RedisPoolAllowances.pruneThreshold
        var unsent: [Key: Unsent] = [:]
    }

    private let redis: RedisClient
    private let prefix: String
    private let logger: Logger
    private let state = Mutex(State())

    public init(redis: RedisClient, prefix: String, logger: Logger) {
        self.redis = redis
        self.prefix = prefix
        self.logger = logger
    }

    public func budget(userID: Int64, group: String, terms: AllowanceTerms, now: Double) async throws -> RecoveringBudget {
        let key = Key(userID: userID, group: group)
        let fresh = state.withLock { state in state.mirror[key].flatMap { now - $0.syncedAt < Self.syncInterval ? $0 : nil } }
        let mirrored: Mirrored
        if let fresh { mirrored = fresh } else { mirrored = try await exchange(key, terms: terms, units: 0, at: now) }
        return Self.budget(mirrored, terms: terms, at: now)
    }

    public func spend(userID: Int64, group: String, terms: AllowanceTerms, units: Int, now: Double) async {
        guard units > 0 else { return }
        let key = Key(userID: userID, group: group)
        state.withLock { state in
            if let mirrored = state.mirror[key] { state.mirror[key] = Self.spending(units, from: mirrored, terms: terms, at: now) }
            if var unsent = state.unsent[key] {
                unsent.units += units
                unsent.terms = terms
                state.unsent[key] = unsent
            } else {
                state.unsent[key] = Unsent(terms: terms, units: units, at: now)
            }
        }
    }

    /// Sends the unsent spends, one script per user and group, all at once: a Redis that does
    /// not answer holds the settlement writer up for one timeout, not one per user. A spend Redis
    /// cannot take is logged and dropped.
    public func flushSpends() async {
        let unsent = state.withLock { state in
            defer { state.unsent.removeAll() }
            return state.unsent
        }
        if unsent.count == 1, let (key, spend) = unsent.first { return await send(spend, for: key) }
        await withTaskGroup(of: Void.self) { group in
            for (key, spend) in unsent { group.addTask { await self.send(spend, for: key) } }
        }
    }

    private func send(_ spend: Unsent, for key: Key) async {
        do {
            try await exchange(key, terms: spend.terms, units: spend.units, at: spend.at)
        } catch {
            logger.warning(
                "a shared-pool spend could not be recorded",
                metadata: ["user": "\(key.userID)", "group": "\(key.group)", "units": "\(spend.units)", "error": "\(error)"])
        }
    }

    /// How many users and groups the mirror holds (for tests).
    var mirroredCount: Int { state.withLock { $0.mirror.count } }

    /// Runs the script (`units` 0 only reads) and mirrors the state it leaves, with the spends
    /// made here since the script was sent applied on top. Concurrent exchanges for one user may
    /// mirror their replies out of order; either is at most `syncInterval` old.
    @discardableResult
    private func exchange(_ key: Key, terms: AllowanceTerms, units: Int, at now: Double) async throws -> Mirrored {
        let reply = try await redis.evaluate(
            Self.script, keys: ["\(prefix):\(key.userID):\(key.group)"],
            arguments: [String(now), String(max(terms.capacity, 0)), String(max(terms.perHour, 0)), String(units)])
        guard case .array(let items) = reply, items.count == 2, let level = items[0].string.flatMap(Double.init),
            let at = items[1].string.flatMap(Double.init)
        else { throw RedisError.command("unexpected allowance reply \(reply)") }
        return state.withLock { state in
            var mirrored = Mirrored(level: level, at: at, syncedAt: now)
            if let unsent = state.unsent[key] { mirrored = Self.spending(unsent.units, from: mirrored, terms: unsent.terms, at: unsent.at) }
            state.mirror[key] = mirrored
            if state.mirror.count >= state.pruneAt {
                state.mirror = state.mirror.filter { now - $0.value.syncedAt < Self.syncInterval }
                state.pruneAt = max(Self.pruneThreshold, state.mirror.count * 2)
            }
            return mirrored
        }
    }

    /// The script's arithmetic on a stored state: clamp to the terms' capacity, recover to `now`.
    private static func budget(_ mirrored: Mirrored, terms: AllowanceTerms, at now: Double) -> RecoveringBudget {
        var budget = RecoveringBudget(capacity: terms.capacity, perHour: terms.perHour, level: mirrored.level, updatedAt: mirrored.at)
        budget.recover(to: now)
        return budget
    }

    /// A stored state after the script spent `units` at `now`.
    private static func spending(_ units: Int, from mirrored: Mirrored, terms: AllowanceTerms, at now: Double) -> Mirrored {
        var budget = RecoveringBudget(capacity: terms.capacity, perHour: terms.perHour, level: mirrored.level, updatedAt: mirrored.at)
        budget.spend(units, at: now)
        return Mirrored(level: budget.level, at: budget.updatedAt, syncedAt: mirrored.syncedAt)
    }

    /// With `units` > 0: reterms, recovers to `now`, spends and stores. Replies with the stored
    /// state, which the caller clamps to its terms and recovers to its own time as the script
    /// would: `level` at `at`, or `inf` at `now` when there is none (full, whatever the terms are
    /// when it is next read). Numbers go back as `%.17g` strings, since Redis would truncate a
    /// Lua number in a reply to an integer.
    static let script = RedisScript(
        """
        local now, cap, rate, units = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
        local v = redis.call('HMGET', KEYS[1], 'level', 'at')
        local level, at = tonumber(v[1]), tonumber(v[2])
        if level == nil or at == nil then level, at = math.huge, now end
        if units > 0 then
          if level > cap then level = cap end
          if now > at then
            level = math.min(cap, level + rate * (now - at) / 3600)
            at = now
          end
          level = level - units
          redis.call('HSET', KEYS[1], 'level', string.format('%.17g', level), 'at', string.format('%.17g', at))
          if rate > 0 then
            redis.call('EXPIRE', KEYS[1], math.ceil((cap - level) * 3600 / rate) + 60)
          else
            redis.call('PERSIST', KEYS[1])
          end
        end
        return {string.format('%.17g', level), string.format('%.17g', at)}
        """)
}
