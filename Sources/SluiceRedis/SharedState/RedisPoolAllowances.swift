import Foundation
import Logging
import SluiceCore

/// `PoolAllowances` shared by every instance: each user's `RecoveringBudget` per model group is a
/// Redis hash (`level`, `at`), recovered and spent by one script with the same arithmetic as
/// `LocalPoolAllowances`. A budget that has recovered in full expires, since absent means full.
public final class RedisPoolAllowances: PoolAllowances {
    private let redis: RedisClient
    private let prefix: String
    private let logger: Logger

    public init(redis: RedisClient, prefix: String, logger: Logger) {
        self.redis = redis
        self.prefix = prefix
        self.logger = logger
    }

    public func budget(userID: Int64, group: String, terms: AllowanceTerms, now: Double) async throws -> RecoveringBudget {
        try await run(userID: userID, group: group, terms: terms, units: 0, now: now)
    }

    public func spend(userID: Int64, group: String, terms: AllowanceTerms, units: Int, now: Double) async {
        guard units > 0 else { return }
        do {
            try await run(userID: userID, group: group, terms: terms, units: units, now: now)
        } catch {
            logger.warning(
                "a shared-pool spend could not be recorded", metadata: ["user": "\(userID)", "group": "\(group)", "error": "\(error)"])
        }
    }

    @discardableResult
    private func run(userID: Int64, group: String, terms: AllowanceTerms, units: Int, now: Double) async throws -> RecoveringBudget {
        let reply = try await redis.evaluate(
            Self.script, keys: ["\(prefix):\(userID):\(group)"],
            arguments: [String(now), String(max(terms.capacity, 0)), String(max(terms.perHour, 0)), String(units)])
        guard case .array(let items) = reply, items.count == 2, let level = items[0].string.flatMap(Double.init),
            let at = items[1].string.flatMap(Double.init)
        else { throw RedisError.command("unexpected allowance reply \(reply)") }
        return RecoveringBudget(capacity: terms.capacity, perHour: terms.perHour, level: level, updatedAt: at)
    }

    /// Reterms, recovers to `now` and spends `units` (0 only reads). Numbers go back as `%.17g`
    /// strings, since Redis would truncate a Lua number in a reply to an integer.
    static let script = RedisScript(
        """
        local now, cap, rate, units = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
        local v = redis.call('HMGET', KEYS[1], 'level', 'at')
        local level, at = tonumber(v[1]), tonumber(v[2])
        if level == nil or at == nil then level, at = cap, now end
        if level > cap then level = cap end
        if now > at then
          level = math.min(cap, level + rate * (now - at) / 3600)
          at = now
        end
        if units > 0 then
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
