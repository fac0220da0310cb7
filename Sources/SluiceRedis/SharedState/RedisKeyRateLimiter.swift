import Foundation
import Logging
import SluiceCore

/// `KeyRateLimiting` shared by every instance: each key's RPM and TPM windows live in Redis, as
/// the same two-counter sliding windows `SlidingWindow` keeps in process, checked and counted by
/// one script so that instances cannot both let the last request through.
///
/// Keys without limits never reach Redis.
public final class RedisKeyRateLimiter: KeyRateLimiting {
    private let redis: RedisClient
    private let prefix: String
    private let logger: Logger

    public init(redis: RedisClient, prefix: String = "sluice:rate", logger: Logger) {
        self.redis = redis
        self.prefix = prefix
        self.logger = logger
    }

    public func admit(keyID: Int64, rpm: Int?, tpm: Int?, now: Double) async throws -> RateDecision {
        guard rpm != nil || tpm != nil else { return .allowed }
        let reply = try await redis.evaluate(
            Self.admitScript, keys: keys(keyID), arguments: [String(now), String(rpm ?? -1), String(tpm ?? -1)])
        let values = try reply.integers()
        guard values.first == 0, values.count == 3 else { return .allowed }
        return .limited(limit: values[1] == 1 ? "requests" : "tokens", retryAfterSeconds: Int(values[2]))
    }

    public func recordTokens(keyID: Int64, tokens: Int, now: Double) async {
        guard tokens > 0 else { return }
        do {
            try await redis.evaluate(Self.recordScript, keys: keys(keyID), arguments: [String(now), String(tokens)])
        } catch {
            logger.warning("tokens could not be counted in the key's TPM window", metadata: ["key": "\(keyID)", "error": "\(error)"])
        }
    }

    private func keys(_ keyID: Int64) -> [String] { ["\(prefix):\(keyID):requests", "\(prefix):\(keyID):tokens"] }

    /// `SlidingWindow`'s arithmetic in Lua: a window is `start`, `cur` and `prev` in a hash, and
    /// `len` seconds long (given when it is loaded).
    static let windowFunctions = """
        local function roll(w, now)
          local start = math.floor(now / w.len) * w.len
          if start ~= w.start then
            if start - w.start == w.len then w.prev = w.cur else w.prev = 0 end
            w.cur = 0
            w.start = start
          end
        end
        local function load(key, now, len)
          local v = redis.call('HMGET', key, 'start', 'cur', 'prev')
          local w = {len = len, start = tonumber(v[1] or 0), cur = tonumber(v[2] or 0), prev = tonumber(v[3] or 0)}
          roll(w, now)
          return w
        end
        local function count(w, now)
          local overlap = 1 - (now - w.start) / w.len
          if overlap < 0 then overlap = 0 end
          return w.cur + math.ceil(w.prev * overlap)
        end
        local function seconds_until_below(w, limit, now)
          local t = now
          local probe = {len = w.len, start = w.start, cur = w.cur, prev = w.prev}
          while t - now < w.len * 2 do
            roll(probe, t)
            if count(probe, t) < limit then break end
            t = t + 1
          end
          return math.max(1, math.ceil(t - now))
        end
        local function save(key, w)
          redis.call('HSET', key, 'start', string.format('%d', w.start), 'cur', string.format('%d', w.cur), 'prev', string.format('%d', w.prev))
          redis.call('PEXPIRE', key, w.len * 2000)
        end
        """

    /// `{1}` when admitted (and counted), else `{0, 1 (requests) or 2 (tokens), retry-after seconds}`.
    static let admitScript = RedisScript(windowFunctions + "\n" + """
        local now, rpm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
        local requests = load(KEYS[1], now, 60)
        if rpm >= 0 and count(requests, now) + 1 > rpm then return {0, 1, seconds_until_below(requests, rpm, now)} end
        if tpm >= 0 then
          local tokens = load(KEYS[2], now, 60)
          if count(tokens, now) >= tpm then return {0, 2, seconds_until_below(tokens, tpm, now)} end
        end
        requests.cur = requests.cur + 1
        save(KEYS[1], requests)
        return {1}
        """)

    static let recordScript = RedisScript(windowFunctions + "\n" + """
        local now = tonumber(ARGV[1])
        local tokens = load(KEYS[2], now, 60)
        tokens.cur = tokens.cur + tonumber(ARGV[2])
        save(KEYS[2], tokens)
        return 1
        """)
}
