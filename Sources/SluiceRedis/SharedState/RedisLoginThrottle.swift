import Foundation
import Logging
import SluiceCore

/// `LoginThrottling` shared by every instance: the per-address and per-account windows of
/// `LocalLoginThrottle`, in Redis, checked and counted by one script.
public final class RedisLoginThrottle: LoginThrottling {
    private let redis: RedisClient
    private let prefix: String
    private let attemptsPerAddress: Int
    private let failuresPerAccount: Int
    private let logger: Logger

    public init(redis: RedisClient, prefix: String, attemptsPerAddressPerMinute: Int, failuresPerAccountPer15Minutes: Int, logger: Logger) {
        self.redis = redis
        self.prefix = prefix
        attemptsPerAddress = attemptsPerAddressPerMinute
        failuresPerAccount = failuresPerAccountPer15Minutes
        self.logger = logger
    }

    public func admit(address: String, account: String, now: Double) async throws -> Int? {
        let reply = try await redis.evaluate(
            Self.admitScript, keys: [accountKey(account), "\(prefix):address:\(address)"],
            arguments: [String(now), String(failuresPerAccount), String(attemptsPerAddress)])
        let values = try reply.integers()
        return values.first == 0 && values.count == 2 ? Int(values[1]) : nil
    }

    public func recordFailure(account: String, now: Double) async {
        do {
            try await redis.evaluate(Self.failureScript, keys: [accountKey(account)], arguments: [String(now)])
        } catch {
            // The address window still counted the attempt; only this account's count is short by one.
            logger.warning("a failed sign-in could not be counted", metadata: ["error": "\(error)"])
        }
    }

    private func accountKey(_ account: String) -> String { "\(prefix):account:\(account.lowercased())" }

    /// `{1}` when admitted (and counted against the address), else `{0, retry-after seconds}`.
    static let admitScript = RedisScript(
        RedisKeyRateLimiter.windowFunctions + "\n" + """
            local now, failures, attempts = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
            local account = load(KEYS[1], now, \(Int(LoginWindows.accountSeconds)))
            if count(account, now) >= failures then return {0, seconds_until_below(account, failures, now)} end
            local address = load(KEYS[2], now, \(Int(LoginWindows.addressSeconds)))
            if count(address, now) >= attempts then return {0, seconds_until_below(address, attempts, now)} end
            address.cur = address.cur + 1
            save(KEYS[2], address)
            return {1}
            """)

    static let failureScript = RedisScript(
        RedisKeyRateLimiter.windowFunctions + "\n" + """
            local now = tonumber(ARGV[1])
            local account = load(KEYS[1], now, \(Int(LoginWindows.accountSeconds)))
            account.cur = account.cur + 1
            save(KEYS[1], account)
            return 1
            """)
}
