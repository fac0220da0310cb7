import Logging
import ServiceLifecycle
import SluiceCore
import SluiceRedis
import SluiceStore

/// What instances must agree on: credit holds, key and team-member spending limits, rate windows, shared-pool allowances,
/// sign-in windows and pool events. In
/// process when `redis.url` is empty; in Redis, behind the same protocols, when it is set.
struct SharedState: Sendable {
    var credits: any CreditHolds
    var spendingLimits: SpendingLimits
    var rateLimiter: any KeyRateLimiting
    var allowances: any PoolAllowances
    var loginThrottle: any LoginThrottling
    /// The Redis client and the event exchange, when there is a Redis.
    var redis: RedisClient?
    var exchange: RedisClusterEvents?
    var events: any ClusterEvents { exchange ?? SoloInstance() }

    static func open(
        _ config: SluiceConfig.Redis, auth: SluiceConfig.Auth, store: any GatewayStore, clock: any WallClock, logger: Logger
    ) throws -> SharedState {
        let loadBalance: @Sendable (Int64) async throws -> Credits? = { try await store.balance(userID: $0) }
        let loadKeyBudget: @Sendable (Int64) async throws -> Credits? = { try await store.keySpendRemaining(keyID: $0) }
        let loadMemberBudget: @Sendable (Int64) async throws -> Credits? = { try await store.memberSpendRemaining(membershipID: $0) }
        guard !config.url.isEmpty else {
            return SharedState(
                credits: CreditBook(loader: loadBalance), spendingLimits: SpendingLimits(keys: CreditBook(loader: loadKeyBudget), members: CreditBook(loader: loadMemberBudget)),
                rateLimiter: LocalKeyRateLimiter(), allowances: LocalPoolAllowances(),
                loginThrottle: LocalLoginThrottle(
                    attemptsPerAddressPerMinute: auth.loginAttemptsPerIPPerMinute,
                    failuresPerAccountPer15Minutes: auth.loginFailuresPerAccountPer15Minutes))
        }
        let endpoint: RedisEndpoint
        do { endpoint = try RedisEndpoint(url: config.url) } catch { throw StartupError("redis.url: \(error)") }
        let redis = RedisClient(
            configuration: .init(endpoint: endpoint, maxConnections: config.poolSize, timeout: .milliseconds(config.timeoutMillis)),
            logger: logger.with(label: "redis"))
        let prefix = config.keyPrefix
        let lease = Duration.seconds(config.holdLeaseSeconds)
        let exchange = RedisClusterEvents(redis: redis, stream: "\(prefix):events", logger: logger.with(label: "cluster"))
        return SharedState(
            credits: RedisCreditHolds(redis: redis, prefix: "\(prefix):credits", holdLease: lease, clock: clock, loader: loadBalance),
            spendingLimits: SpendingLimits(
                keys: RedisCreditHolds(redis: redis, prefix: "\(prefix):keybudget", holdLease: lease, clock: clock, loader: loadKeyBudget),
                members: RedisCreditHolds(redis: redis, prefix: "\(prefix):memberbudget", holdLease: lease, clock: clock, loader: loadMemberBudget)),
            rateLimiter: RedisKeyRateLimiter(redis: redis, prefix: "\(prefix):rate", logger: logger.with(label: "rate")),
            allowances: RedisPoolAllowances(redis: redis, prefix: "\(prefix):allowance", logger: logger.with(label: "allowance")),
            loginThrottle: RedisLoginThrottle(
                redis: redis, prefix: "\(prefix):login", attemptsPerAddressPerMinute: auth.loginAttemptsPerIPPerMinute,
                failuresPerAccountPer15Minutes: auth.loginFailuresPerAccountPer15Minutes, logger: logger.with(label: "login")),
            redis: redis,
            exchange: exchange)
    }
}
