import Foundation
import SluiceCore
import Synchronization

/// `CreditHolds` shared by every instance, in Redis: the same bookkeeping as `CreditBook`
/// (`available = durable − unflushed − held`), kept in one hash per user and changed only by Lua
/// scripts, so a hold on one instance sees every hold on the others.
///
/// Per user (`{prefix}:{id}`), a hash of `durable`, `unflushed`, `held`, `loaded` (ms) and
/// `version`, a hash of holds (request id → amount) and a sorted set of the holds' deadlines.
/// A hold outlives its lease only if its instance died mid-request; the next hold on that user
/// releases it, so a crashed instance cannot lock a balance for good.
///
/// The store stays the source of truth. A missing or stale quiet balance is read from it (the
/// scripts answer "load", the loader reads, `load` writes it back unless something changed
/// meanwhile), and `persisted` moves a flushed charge from `unflushed` to `durable` by its amount,
/// so instances that flush in any order agree.
public final class RedisCreditHolds: CreditHolds {
    public typealias BalanceLoader = @Sendable (Int64) async throws -> Credits?

    private let redis: RedisClient
    private let prefix: String
    private let loader: BalanceLoader
    private let refreshAfterMillis: Int64
    private let leaseMillis: Int64
    /// Leases and balance ages are times this instance sends with each script, so every instance's
    /// clock must roughly agree; a test moves its own.
    private let clock: any WallClock
    /// Holds this instance made: request id → user. A request settles where it was held.
    private let holders = Mutex([String: Int64]())

    /// `prefix` names the kind of balance (`sluice:credits`, `sluice:keybudget`).
    public init(
        redis: RedisClient, prefix: String, refreshAfter: Duration = .seconds(5), holdLease: Duration = .seconds(3600),
        clock: any WallClock = SystemClock(), loader: @escaping BalanceLoader
    ) {
        self.clock = clock
        self.redis = redis
        self.prefix = prefix
        self.loader = loader
        refreshAfterMillis = Int64(refreshAfter.components.seconds * 1000)
        leaseMillis = Int64(holdLease.components.seconds * 1000)
    }

    public var outstandingHolds: Int { holders.withLock { $0.count } }

    public func hold(userID: Int64, amount: Credits, requestID: String) async throws -> HoldOutcome {
        for attempt in 0..<3 {
            let reply = try await redis.evaluate(
                Self.holdScript, keys: keys(userID),
                arguments: [
                    String(amount.micros), requestID, String(nowMillis()), String(leaseMillis), String(refreshAfterMillis),
                    attempt == 0 ? "0" : "1",
                ])
            let values = try reply.integers()
            switch values.first {
            case 1:
                holders.withLock { $0[requestID] = userID }
                return .held
            case 0: return .insufficient(available: Credits(micros: max(0, values[1])))
            case -2: throw CreditBook.DuplicateRequest()
            default: try await load(userID, seenVersion: values.count > 1 ? values[1] : 0)
            }
        }
        throw RedisError.unavailable("the balance of user \(userID) kept changing while it was loaded")
    }

    public func settle(requestID: String, cost: Credits) async throws -> Settlement? {
        guard let userID = holders.withLock({ $0[requestID] }) else { return nil }
        let settled = try await runSettle(userID: userID, requestID: requestID, cost: cost)
        holders.withLock { $0[requestID] = nil }
        return settled
    }

    /// The settle script releases the dead instance's hold when its lease has not yet, and keeps
    /// its answer under the request's marker, so two instances recovering one request charge once.
    public func settleOrphaned(userID: Int64, requestID: String, cost: Credits) async throws -> Settlement {
        guard let settled = try await runSettle(userID: userID, requestID: requestID, cost: cost) else {
            throw RedisError.unavailable("the balance of user \(userID) could not be loaded to settle \(requestID)")
        }
        return settled
    }

    private func runSettle(userID: Int64, requestID: String, cost: Credits) async throws -> Settlement? {
        var values: [Int64] = []
        for attempt in 0..<2 {
            values = try await redis.evaluate(
                Self.settleScript, keys: keys(userID) + ["\(prefix):settled:\(requestID)"],
                arguments: [requestID, String(cost.micros), String(Self.settledMarkerMillis)]
            ).integers()
            // Redis lost the balance (it restarted empty): read it from the store and settle again.
            guard values.first == -1, attempt == 0 else { break }
            try await load(userID, seenVersion: 0)
        }
        guard values.first == 1, values.count == 3 else { return nil }
        return Settlement(userID: userID, requestID: requestID, charged: Credits(micros: values[1]), cost: cost, held: Credits(micros: values[2]))
    }

    public func persisted(userID: Int64, charged: Credits, balanceAfter: Credits) async {
        guard charged.micros != 0 else { return }
        _ = try? await redis.evaluate(Self.persistedScript, keys: keys(userID), arguments: [String(charged.micros)])
    }

    public func available(userID: Int64) async throws -> Credits {
        for attempt in 0..<3 {
            let values = try await redis.evaluate(
                Self.availableScript, keys: keys(userID),
                arguments: [String(nowMillis()), String(refreshAfterMillis), attempt == 0 ? "0" : "1"]
            ).integers()
            if values.first == 1 { return Credits(micros: max(0, values[1])) }
            try await load(userID, seenVersion: values.count > 1 ? values[1] : 0)
        }
        throw RedisError.unavailable("the balance of user \(userID) kept changing while it was loaded")
    }

    public func invalidate(userID: Int64) async {
        _ = try? await redis.evaluate(Self.invalidateScript, keys: keys(userID), arguments: [])
    }

    /// How long a settle's result is kept for a retry whose first reply was lost. Long enough for
    /// the settlement writer's retries; short, because every request leaves one.
    static let settledMarkerMillis: Int64 = 120_000

    private func load(_ userID: Int64, seenVersion: Int64) async throws {
        guard let balance = try await loader(userID) else { throw CreditBook.UnknownUser() }
        try await redis.evaluate(
            Self.loadScript, keys: keys(userID), arguments: [String(balance.micros), String(seenVersion), String(nowMillis())])
    }

    private func keys(_ userID: Int64) -> [String] {
        ["\(prefix):\(userID)", "\(prefix):\(userID):holds", "\(prefix):\(userID):deadlines"]
    }

    private func nowMillis() -> Int64 { Int64(clock.now().timeIntervalSince1970 * 1000) }
}
