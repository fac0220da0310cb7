/// The scripts behind `RedisCreditHolds`. Each runs atomically in Redis, so no two instances can
/// interleave between reading a balance and changing it.
///
/// Keys: 1 the balance hash, 2 the holds hash, 3 the holds' deadlines, 4 (settle) the request's
/// settled marker. Amounts are integer micro-credits; Lua holds them exactly (below 2^53), and
/// `string.format('%d', …)` writes them back as integers rather than as `1e+15`.
extension RedisCreditHolds {
    /// Gives back the holds whose lease ran out before `now`: their instance died mid-request.
    static let releaseExpired = """
        local function release_expired(now)
          for _, rid in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)) do
            local amount = redis.call('HGET', KEYS[2], rid)
            if amount then
              redis.call('HDEL', KEYS[2], rid)
              if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HINCRBY', KEYS[1], 'held', string.format('%d', -tonumber(amount))) end
            end
            redis.call('ZREM', KEYS[3], rid)
          end
        end
        """

    /// Releases holds whose lease ran out; then answers `{-1, version}` when the balance must be
    /// loaded (missing, or quiet and stale, unless `ARGV[6]` says it was just loaded), `{-2}` for a request id that already holds, `{0,
    /// available}` when the amount is not available, and `{1}` when it is now held.
    static let holdScript = RedisScript(releaseExpired + """

        local now = tonumber(ARGV[3])
        release_expired(now)
        local b = redis.call('HMGET', KEYS[1], 'durable', 'unflushed', 'held', 'loaded', 'version')
        if not b[1] then return {-1, 0} end
        local durable, unflushed, held = tonumber(b[1]), tonumber(b[2]), tonumber(b[3])
        if unflushed == 0 and held == 0 and now - tonumber(b[4]) > tonumber(ARGV[5]) and ARGV[6] ~= '1' then return {-1, tonumber(b[5])} end
        if redis.call('HEXISTS', KEYS[2], ARGV[2]) == 1 then return {-2} end
        local available = durable - unflushed - held
        if available < tonumber(ARGV[1]) then return {0, available} end
        redis.call('HINCRBY', KEYS[1], 'held', ARGV[1])
        redis.call('HINCRBY', KEYS[1], 'version', 1)
        redis.call('HSET', KEYS[2], ARGV[2], ARGV[1])
        redis.call('ZADD', KEYS[3], now + tonumber(ARGV[4]), ARGV[2])
        for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], tonumber(ARGV[4]) + 86400000) end
        return {1}
        """)

    /// Writes a balance read from the store: always into a missing hash, and into an existing one
    /// only if it is quiet and unchanged since the script that asked for the load (`ARGV[2]`).
    static let loadScript = RedisScript("""
        local b = redis.call('HMGET', KEYS[1], 'unflushed', 'held', 'version')
        if not b[1] then
          redis.call('HSET', KEYS[1], 'durable', ARGV[1], 'unflushed', 0, 'held', 0, 'loaded', ARGV[3], 'version', 1)
        elseif tonumber(b[3]) == tonumber(ARGV[2]) and tonumber(b[1]) == 0 and tonumber(b[2]) == 0 then
          redis.call('HSET', KEYS[1], 'durable', ARGV[1], 'loaded', ARGV[3])
          redis.call('HINCRBY', KEYS[1], 'version', 1)
        end
        redis.call('PEXPIRE', KEYS[1], 86400000)
        return 1
        """)

    /// Releases the hold and charges the cost, capped at what is available: `{1, charged, held}`.
    /// The result is kept for a while under the request's marker, so a retry after a lost reply
    /// gets the same answer and charges nothing twice. `{-1, 0}` when the balance is gone (Redis
    /// restarted empty): it is loaded, and the settle tried again.
    ///
    /// A hold found beside the marker was taken again under a settled id (an idempotent consume
    /// retried just as its first call ended): it is released and nothing more is charged, or it
    /// would lock that much of the balance until its lease ran out.
    static let settleScript = RedisScript("""
        local function release(amount)
          redis.call('HDEL', KEYS[2], ARGV[1])
          redis.call('ZREM', KEYS[3], ARGV[1])
          redis.call('HINCRBY', KEYS[1], 'held', string.format('%d', -amount))
        end
        local done = redis.call('GET', KEYS[4])
        local exists = redis.call('EXISTS', KEYS[1]) == 1
        local amount = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
        if done then
          if amount > 0 and exists then
            release(amount)
            redis.call('HINCRBY', KEYS[1], 'version', 1)
          end
          return {1, tonumber(done), amount}
        end
        if not exists then return {-1, 0} end
        if amount > 0 then release(amount) end
        local b = redis.call('HMGET', KEYS[1], 'durable', 'unflushed', 'held')
        local available = tonumber(b[1]) - tonumber(b[2]) - tonumber(b[3])
        local charge = math.min(math.max(tonumber(ARGV[2]), 0), math.max(available, 0))
        redis.call('HINCRBY', KEYS[1], 'unflushed', string.format('%d', charge))
        redis.call('HINCRBY', KEYS[1], 'version', 1)
        redis.call('SET', KEYS[4], string.format('%d', charge), 'PX', ARGV[3])
        return {1, charge, amount}
        """)

    /// The store wrote a charge: it leaves `unflushed` and is taken from `durable`.
    static let persistedScript = RedisScript("""
        if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
        local minus = string.format('%d', -tonumber(ARGV[1]))
        redis.call('HINCRBY', KEYS[1], 'unflushed', minus)
        redis.call('HINCRBY', KEYS[1], 'durable', minus)
        redis.call('HINCRBY', KEYS[1], 'version', 1)
        return 1
        """)

    /// `{1, available}`, or `{-1, version}` when the balance must be loaded first.
    static let availableScript = RedisScript(releaseExpired + """

        release_expired(tonumber(ARGV[1]))
        local b = redis.call('HMGET', KEYS[1], 'durable', 'unflushed', 'held', 'loaded', 'version')
        if not b[1] then return {-1, 0} end
        local unflushed, held = tonumber(b[2]), tonumber(b[3])
        if unflushed == 0 and held == 0 and tonumber(ARGV[1]) - tonumber(b[4]) > tonumber(ARGV[2]) and ARGV[3] ~= '1' then return {-1, tonumber(b[5])} end
        return {1, tonumber(b[1]) - unflushed - held}
        """)

    /// Drops a quiet balance, so the next hold reads the store.
    static let invalidateScript = RedisScript("""
        local b = redis.call('HMGET', KEYS[1], 'unflushed', 'held')
        if b[1] and tonumber(b[1]) == 0 and tonumber(b[2]) == 0 then redis.call('DEL', KEYS[1]) end
        return 1
        """)
}
