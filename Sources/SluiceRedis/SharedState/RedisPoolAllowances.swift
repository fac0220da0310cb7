import Foundation
import Logging
import SluiceCore
import Synchronization

/// `PoolAllowances` shared by every instance: each user's `RecoveringBudget` per model group is a
/// Redis hash (`level`, `at`), spent by one script with the same arithmetic as
/// `LocalPoolAllowances`. A budget that has recovered in full expires, since absent means full.
///
/// Each instance mirrors the stored state it last exchanged with Redis, per user and group, and
/// answers a read from the mirror for `syncInterval` after that exchange. A user's requests read
/// their allowance before each request and spend it after, so while they are active every read is
/// answered in process, from what their last spend wrote back: a Redis round trip saved on each
/// request. What the mirror cannot see is another instance's spends since, so across instances
/// the pool can close up to `syncInterval` late. An allowance is fairness, not money; credits are
/// never read this way.
public final class RedisPoolAllowances: PoolAllowances {
    /// How long a mirrored state answers reads, in the seconds of the `now` the callers pass.
    static let syncInterval: Double = 1
    /// The mirror drops its stale entries when it reaches this many (then twice what is left).
    static let pruneThreshold = 4096

    private struct Key: Hashable {
        var userID: Int64
        var group: String
    }

    /// A budget as Redis stores it (`level` at time `at`, before recovery), and when it was read
    /// or written.
    private struct Stored {
        var level: Double
        var at: Double
        var syncedAt: Double
    }

    private struct Mirror {
        var entries: [Key: Stored] = [:]
        var pruneAt = RedisPoolAllowances.pruneThreshold
    }

    private let redis: RedisClient
    private let prefix: String
    private let logger: Logger
    private let mirror = Mutex(Mirror())

    public init(redis: RedisClient, prefix: String, logger: Logger) {
        self.redis = redis
        self.prefix = prefix
        self.logger = logger
    }

    public func budget(userID: Int64, group: String, terms: AllowanceTerms, now: Double) async throws -> RecoveringBudget {
        let key = Key(userID: userID, group: group)
        let mirrored = mirror.withLock { mirror in
            mirror.entries[key].flatMap { now - $0.syncedAt < Self.syncInterval ? $0 : nil }
        }
        let stored: Stored
        if let mirrored { stored = mirrored } else { stored = try await run(key, terms: terms, units: 0, now: now) }
        // The script's own arithmetic: clamp to the terms' capacity, then recover to `now`.
        var budget = RecoveringBudget(capacity: terms.capacity, perHour: terms.perHour, level: stored.level, updatedAt: stored.at)
        budget.recover(to: now)
        return budget
    }

    public func spend(userID: Int64, group: String, terms: AllowanceTerms, units: Int, now: Double) async {
        guard units > 0 else { return }
        do {
            try await run(Key(userID: userID, group: group), terms: terms, units: units, now: now)
        } catch {
            logger.warning(
                "a shared-pool spend could not be recorded", metadata: ["user": "\(userID)", "group": "\(group)", "error": "\(error)"])
        }
    }

    /// Runs the script and mirrors the state it leaves. Concurrent requests of one user may
    /// mirror their replies out of order; either state is at most `syncInterval` old.
    @discardableResult
    private func run(_ key: Key, terms: AllowanceTerms, units: Int, now: Double) async throws -> Stored {
        let reply = try await redis.evaluate(
            Self.script, keys: ["\(prefix):\(key.userID):\(key.group)"],
            arguments: [String(now), String(max(terms.capacity, 0)), String(max(terms.perHour, 0)), String(units)])
        guard case .array(let items) = reply, items.count == 2, let level = items[0].string.flatMap(Double.init),
            let at = items[1].string.flatMap(Double.init)
        else { throw RedisError.command("unexpected allowance reply \(reply)") }
        let stored = Stored(level: level, at: at, syncedAt: now)
        mirror.withLock { mirror in
            mirror.entries[key] = stored
            if mirror.entries.count >= mirror.pruneAt {
                mirror.entries = mirror.entries.filter { now - $0.value.syncedAt < Self.syncInterval }
                mirror.pruneAt = max(Self.pruneThreshold, mirror.entries.count * 2)
            }
        }
        return stored
    }

    /// How many users and groups the mirror holds (for tests).
    var mirroredCount: Int { mirror.withLock { $0.entries.count } }

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
