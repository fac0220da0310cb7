import Synchronization
import Testing
@testable import SluiceCore

@Suite struct CreditBookTests {
    func book(balance: Int64) -> CreditBook {
        CreditBook { _ in Credits(micros: balance) }
    }

    @Test func holdReducesAvailableAndInsufficientIsRefused() async throws {
        let book = book(balance: 100)
        #expect(try await book.hold(userID: 1, amount: Credits(micros: 60), requestID: "a") == .held)
        #expect(try await book.available(userID: 1) == Credits(micros: 40))
        #expect(try await book.hold(userID: 1, amount: Credits(micros: 50), requestID: "b") == .insufficient(available: Credits(micros: 40)))
    }

    @Test func settleChargesActualCostAndReleasesTheRest() async throws {
        let book = book(balance: 100)
        _ = try await book.hold(userID: 1, amount: Credits(micros: 60), requestID: "a")
        let settlement = try #require(book.settle(requestID: "a", cost: Credits(micros: 25)))
        #expect(settlement.charged == Credits(micros: 25))
        #expect(try await book.available(userID: 1) == Credits(micros: 75))
        #expect(book.outstandingHolds == 0)
    }

    @Test func settleIsIdempotentByRequestID() async throws {
        let book = book(balance: 100)
        _ = try await book.hold(userID: 1, amount: Credits(micros: 60), requestID: "a")
        #expect(book.settle(requestID: "a", cost: Credits(micros: 25)) != nil)
        #expect(book.settle(requestID: "a", cost: Credits(micros: 25)) == nil)
        #expect(try await book.available(userID: 1) == Credits(micros: 75))
    }

    @Test func chargeIsCappedSoTheBalanceIsNeverOverdrawn() async throws {
        let book = book(balance: 100)
        _ = try await book.hold(userID: 1, amount: Credits(micros: 60), requestID: "a")
        _ = try await book.hold(userID: 1, amount: Credits(micros: 30), requestID: "b")
        // Usage came in far above the estimate: the charge takes what is free, not what "b" holds.
        let settlement = try #require(book.settle(requestID: "a", cost: Credits(micros: 500)))
        #expect(settlement.charged == Credits(micros: 70))
        #expect(settlement.cost == Credits(micros: 500))
        #expect(try await book.available(userID: 1) == Credits(micros: 0))
        #expect(book.settle(requestID: "b", cost: Credits(micros: 30))?.charged == Credits(micros: 30))
    }

    /// After a restart the dead request's hold is gone with its process: settling it charges the
    /// estimate, capped at what is free, and leaves the live holds alone.
    @Test func anOrphanedRequestIsChargedCappedAtWhatIsFree() async throws {
        let book = book(balance: 100)
        _ = try await book.hold(userID: 1, amount: Credits(micros: 60), requestID: "live")
        let orphan = try await book.settleOrphaned(userID: 1, requestID: "lost", cost: Credits(micros: 70))
        #expect(orphan.charged == Credits(micros: 40) && orphan.held == .zero)
        #expect(try await book.available(userID: 1) == .zero)
        #expect(book.settle(requestID: "live", cost: Credits(micros: 10))?.charged == Credits(micros: 10))
        #expect(try await book.available(userID: 1) == Credits(micros: 50))
    }

    @Test func duplicateRequestIDCannotHoldTwice() async throws {
        let book = book(balance: 100)
        _ = try await book.hold(userID: 1, amount: Credits(micros: 10), requestID: "a")
        await #expect(throws: CreditBook.DuplicateRequest.self) { try await book.hold(userID: 1, amount: Credits(micros: 10), requestID: "a") }
    }

    @Test func concurrentHoldsNeverExceedTheBalance() async throws {
        let book = book(balance: 1_000)
        let granted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<200 {
                group.addTask { try await book.hold(userID: 7, amount: Credits(micros: 100), requestID: "r\(i)") == .held }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(granted == 10)
        #expect(try await book.available(userID: 7) == .zero)
    }

    @Test func persistedBalanceReplacesTheCachedOne() async throws {
        let book = book(balance: 100)
        _ = try await book.hold(userID: 1, amount: Credits(micros: 50), requestID: "a")
        let s = try #require(book.settle(requestID: "a", cost: Credits(micros: 20)))
        // The store applied the charge on top of a grant of 1000 made elsewhere meanwhile.
        book.persisted(userID: 1, charged: s.charged, balanceAfter: Credits(micros: 1_080))
        #expect(try await book.available(userID: 1) == Credits(micros: 1_080))
    }

    @Test func quietBalanceIsReloadedAfterInvalidate() async throws {
        let balance = Mutex<Int64>(100)
        let book = CreditBook { _ in Credits(micros: balance.withLock { $0 }) }
        #expect(try await book.available(userID: 1) == Credits(micros: 100))
        balance.withLock { $0 = 300 }
        book.invalidate(userID: 1)
        #expect(try await book.available(userID: 1) == Credits(micros: 300))
    }

    @Test func aKnownBalanceServesOnWhenItsRefreshFailsAndAnUnknownOneDoesNot() async throws {
        struct StoreDown: Error {}
        let storeUp = Mutex(true)
        let book = CreditBook(refreshAfter: .zero) { _ in
            guard storeUp.withLock({ $0 }) else { throw StoreDown() }
            return Credits(micros: 100)
        }
        _ = try await book.hold(userID: 1, amount: Credits(micros: 30), requestID: "a")
        _ = book.settle(requestID: "a", cost: Credits(micros: 30))
        storeUp.withLock { $0 = false }
        // Stale at once, and the store is down: the balance known here, its charge counted, still holds.
        #expect(try await book.hold(userID: 1, amount: Credits(micros: 70), requestID: "b") == .held)
        #expect(try await book.hold(userID: 1, amount: Credits(micros: 1), requestID: "c") == .insufficient(available: .zero))
        await #expect(throws: StoreDown.self) { try await book.hold(userID: 2, amount: .zero, requestID: "d") }
    }

    @Test func unknownUserIsAnError() async throws {
        let book = CreditBook { _ in nil }
        await #expect(throws: CreditBook.UnknownUser.self) { try await book.hold(userID: 1, amount: .zero, requestID: "a") }
    }
}
