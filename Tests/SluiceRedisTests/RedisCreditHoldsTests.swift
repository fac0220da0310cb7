import Foundation
import Logging
import SluiceCore
import SluiceTestSupport
import Synchronization
import Testing
@testable import SluiceRedis

/// Two `RedisCreditHolds` on one Redis stand for two gateway instances: every invariant of the
/// in-process `CreditBook` must hold across them.
@Suite(.enabled(if: TestRedis.url != nil)) struct RedisCreditHoldsTests {
    let redis: RedisClient
    let prefix = "test:credits:\(UUID().uuidString)"

    init() throws {
        redis = try TestRedis.client(connections: 8)
    }

    /// The balance the store holds, as the loader reads it.
    final class StoredBalance: Sendable {
        let micros: Mutex<Int64>
        init(_ micros: Int64) { self.micros = Mutex(micros) }
        func set(_ value: Int64) { micros.withLock { $0 = value } }
    }

    func instance(
        balance: StoredBalance? = nil, fixed: Int64 = 0, refreshAfter: Duration = .seconds(5), lease: Duration = .seconds(3600),
        clock: any WallClock = SystemClock()
    ) -> RedisCreditHolds {
        RedisCreditHolds(redis: redis, prefix: prefix, refreshAfter: refreshAfter, holdLease: lease, clock: clock) { _ in
            Credits(micros: balance?.micros.withLock { $0 } ?? fixed)
        }
    }

    @Test func twoInstancesTogetherNeverHoldMoreThanTheBalance() async throws {
        let a = instance(fixed: 1_000)
        let b = instance(fixed: 1_000)
        let granted = try await withThrowingTaskGroup(of: (RedisCreditHolds, String)?.self) { group in
            for i in 0..<200 {
                let book = i.isMultiple(of: 2) ? a : b
                group.addTask { try await book.hold(userID: 7, amount: Credits(micros: 100), requestID: "r\(i)") == .held ? (book, "r\(i)") : nil }
            }
            return try await group.reduce(into: [(RedisCreditHolds, String)]()) { if let held = $1 { $0.append(held) } }
        }
        #expect(granted.count == 10)
        var charged: Int64 = 0
        for (book, requestID) in granted { charged += try #require(try await book.settle(requestID: requestID, cost: Credits(micros: 100))).charged.micros }
        #expect(charged == 1_000)
        #expect(try await a.available(userID: 7) == .zero)
        #expect(a.outstandingHolds == 0 && b.outstandingHolds == 0)
    }

    @Test func aChargeIsCappedAtWhatIsFreeAndSettlesOnce() async throws {
        let a = instance(fixed: 100)
        let b = instance(fixed: 100)
        #expect(try await a.hold(userID: 1, amount: Credits(micros: 60), requestID: "a") == .held)
        #expect(try await b.hold(userID: 1, amount: Credits(micros: 30), requestID: "b") == .held)
        #expect(try await a.hold(userID: 1, amount: Credits(micros: 20), requestID: "c") == .insufficient(available: Credits(micros: 10)))
        await #expect(throws: CreditBook.DuplicateRequest.self) { try await b.hold(userID: 1, amount: Credits(micros: 1), requestID: "a") }
        // Usage far above the estimate takes what is free, never what the other instance holds.
        let first = try #require(try await a.settle(requestID: "a", cost: Credits(micros: 500)))
        #expect(first.charged == Credits(micros: 70) && first.held == Credits(micros: 60))
        let again = try await a.settle(requestID: "a", cost: Credits(micros: 500))
        #expect(again == nil)
        let elsewhere = try await a.settle(requestID: "b", cost: Credits(micros: 30))
        #expect(elsewhere == nil)
        #expect(try await b.settle(requestID: "b", cost: Credits(micros: 30))?.charged == Credits(micros: 30))
        #expect(try await b.available(userID: 1) == .zero)
    }

    @Test func chargesFlushedInAnyOrderLeaveTheBalanceExact() async throws {
        let stored = StoredBalance(100)
        let a = instance(balance: stored, refreshAfter: .zero)
        let b = instance(balance: stored, refreshAfter: .zero)
        _ = try await a.hold(userID: 1, amount: Credits(micros: 40), requestID: "a")
        _ = try await b.hold(userID: 1, amount: Credits(micros: 40), requestID: "b")
        _ = try await a.settle(requestID: "a", cost: Credits(micros: 30))
        _ = try await b.settle(requestID: "b", cost: Credits(micros: 20))
        // The store applies a then b; the instances hear back b first. Setting the balance to what
        // each flush reported would leave a's stale 70; moving each charge by its amount cannot.
        stored.set(50)
        await b.persisted(userID: 1, charged: Credits(micros: 20), balanceAfter: Credits(micros: 50))
        #expect(try await a.available(userID: 1) == Credits(micros: 50))
        await a.persisted(userID: 1, charged: Credits(micros: 30), balanceAfter: Credits(micros: 70))
        #expect(try await a.available(userID: 1) == Credits(micros: 50))
    }

    /// Only the hold whose lease ran out is released, by the next script any instance runs.
    @Test func aDeadInstancesHoldIsReleasedWhenItsLeaseRunsOut() async throws {
        let clock = ManualClock(Date())
        let dead = instance(fixed: 100, lease: .seconds(1), clock: clock)
        let live = instance(fixed: 100, clock: clock)
        #expect(try await live.hold(userID: 3, amount: Credits(micros: 50), requestID: "kept") == .held)
        #expect(try await dead.hold(userID: 3, amount: Credits(micros: 50), requestID: "lost") == .held)
        #expect(try await live.hold(userID: 3, amount: Credits(micros: 1), requestID: "early") == .insufficient(available: .zero))
        clock.advance(by: 1.1)
        #expect(try await live.hold(userID: 3, amount: Credits(micros: 50), requestID: "y") == .held)
        #expect(try await live.hold(userID: 3, amount: Credits(micros: 1), requestID: "z") == .insufficient(available: .zero))
        #expect(try await live.available(userID: 3) == .zero)
    }

    /// The instance that recovers a dead one's request releases its hold at once and charges the
    /// estimate; a second recovery (the first one's reply was lost, or two instances raced) gets
    /// the same answer and charges nothing more.
    @Test func anOrphanedHoldIsReleasedAndChargedOnce() async throws {
        let dead = instance(fixed: 100)
        let live = instance(fixed: 100)
        #expect(try await dead.hold(userID: 5, amount: Credits(micros: 80), requestID: "lost") == .held)
        #expect(try await live.available(userID: 5) == Credits(micros: 20))
        let first = try await live.settleOrphaned(userID: 5, requestID: "lost", cost: Credits(micros: 30))
        #expect(first.charged == Credits(micros: 30) && first.held == Credits(micros: 80))
        #expect(try await live.available(userID: 5) == Credits(micros: 70))
        let again = try await instance(fixed: 100).settleOrphaned(userID: 5, requestID: "lost", cost: Credits(micros: 30))
        #expect(again.charged == Credits(micros: 30))
        #expect(try await live.available(userID: 5) == Credits(micros: 70))
    }

    /// An idempotent consume retried as its first call ends holds the settled id again, finds the
    /// first call's charge, and settles at nothing: that must give the hold back at once, not when
    /// its lease runs out an hour later.
    @Test func aHoldTakenAgainUnderASettledIDIsGivenBackAndNotChargedTwice() async throws {
        let book = instance(fixed: 100)
        #expect(try await book.hold(userID: 6, amount: Credits(micros: 20), requestID: "consume:once") == .held)
        #expect(try await book.settle(requestID: "consume:once", cost: Credits(micros: 20))?.charged == Credits(micros: 20))
        #expect(try await book.hold(userID: 6, amount: Credits(micros: 20), requestID: "consume:once") == .held)
        let again = try #require(try await book.settle(requestID: "consume:once", cost: .zero))
        #expect(again.charged == Credits(micros: 20) && again.held == Credits(micros: 20), "the first charge, reported again")
        #expect(try await book.available(userID: 6) == Credits(micros: 80))
        #expect(book.outstandingHolds == 0)
    }

    @Test func aGrantIsSeenOnceTheQuietBalanceIsInvalidated() async throws {
        let stored = StoredBalance(100)
        let a = instance(balance: stored)
        let b = instance(balance: stored)
        #expect(try await a.available(userID: 4) == Credits(micros: 100))
        stored.set(300)
        #expect(try await b.available(userID: 4) == Credits(micros: 100))
        await b.invalidate(userID: 4)
        #expect(try await a.available(userID: 4) == Credits(micros: 300))
    }

    @Test func anUnknownUserIsRefusedAndAnUnreachableRedisThrows() async throws {
        let unknown = RedisCreditHolds(redis: redis, prefix: prefix) { _ in nil }
        await #expect(throws: CreditBook.UnknownUser.self) { try await unknown.hold(userID: 9, amount: .zero, requestID: "a") }
        let nowhere = RedisClient(
            configuration: .init(endpoint: RedisEndpoint(host: "127.0.0.1", port: 1), timeout: .milliseconds(200)), logger: Logger(label: "test"))
        let unreachable = RedisCreditHolds(redis: nowhere, prefix: prefix) { _ in Credits(micros: 1) }
        await #expect(throws: RedisError.self) { try await unreachable.hold(userID: 9, amount: .zero, requestID: "a") }
    }
}
