import SluiceCore
@testable import SluiceStore
import Testing

/// A written batch is reported to the credit books once per balance: each user's and each limited
/// key's charges summed, with the balance the last of them left.
@Suite struct BalanceChangeTests {
    func charge(user: Int64, key: Int64, _ charged: Int64, after: Int64, keyLeft: Int64? = nil) -> PersistedCharge {
        PersistedCharge(
            userID: user, apiKeyID: key, charged: Credits(micros: charged), balanceAfter: Credits(micros: after),
            keySpendRemaining: keyLeft.map { Credits(micros: $0) })
    }

    @Test func chargesAreFoldedPerUserAndPerLimitedKey() {
        let batch = [
            charge(user: 1, key: 10, 30, after: 970),
            charge(user: 2, key: 20, 5, after: 495, keyLeft: 95),
            charge(user: 1, key: 11, 0, after: 970, keyLeft: 50),
            charge(user: 1, key: 10, 70, after: 900),
            charge(user: 2, key: 20, 15, after: 480, keyLeft: 80),
        ]
        let changes = batch.perBalance()
        #expect(changes.users == [
            BalanceChange(id: 1, charged: Credits(micros: 100), balanceAfter: Credits(micros: 900)),
            BalanceChange(id: 2, charged: Credits(micros: 20), balanceAfter: Credits(micros: 480)),
        ])
        // Key 10 has no spending limit: it has no allowance to report.
        #expect(changes.keys == [
            BalanceChange(id: 20, charged: Credits(micros: 20), balanceAfter: Credits(micros: 80)),
            BalanceChange(id: 11, charged: .zero, balanceAfter: Credits(micros: 50)),
        ])
    }

    /// A team member's spending limit is folded as a limited key's is, across the member's keys;
    /// charges of members without a limit report none.
    @Test func chargesAreFoldedPerLimitedMember() {
        var batch = [
            charge(user: 1, key: 10, 30, after: 970),
            charge(user: 1, key: 11, 20, after: 950),
            charge(user: 1, key: 12, 5, after: 945),
        ]
        for index in [0, 1] {
            batch[index].memberBudgetID = 7
            batch[index].memberSpendRemaining = Credits(micros: 450)
        }
        let changes = batch.perBalance()
        #expect(changes.members == [BalanceChange(id: 7, charged: Credits(micros: 50), balanceAfter: Credits(micros: 450))])
        #expect(changes.users == [BalanceChange(id: 1, charged: Credits(micros: 55), balanceAfter: Credits(micros: 945))])
        #expect(changes.keys.isEmpty)
    }

    /// A credit book told once per balance ends where one told once per charge does.
    @Test func aBookToldPerBalanceEndsWhereOneToldPerChargeDoes() async throws {
        func book() -> CreditBook { CreditBook(loader: { _ in Credits(micros: 1_000) }) }
        let (perCharge, perBalance) = (book(), book())
        var batch: [PersistedCharge] = []
        for (index, cost) in [120, 0, 45, 300, 7].enumerated() {
            let requestID = "r\(index)"
            for book in [perCharge, perBalance] {
                #expect(try await book.hold(userID: 1, amount: Credits(micros: 400), requestID: requestID) == .held)
                _ = try await book.settle(requestID: requestID, cost: Credits(micros: Int64(cost)))
            }
            let spent = batch.reduce(0) { $0 + $1.charged.micros } + Int64(cost)
            batch.append(charge(user: 1, key: 1, Int64(cost), after: 1_000 - spent))
        }
        for charge in batch { perCharge.persisted(userID: 1, charged: charge.charged, balanceAfter: charge.balanceAfter) }
        for change in batch.perBalance().users { perBalance.persisted(userID: change.id, charged: change.charged, balanceAfter: change.balanceAfter) }
        let expected = try await perCharge.available(userID: 1)
        let folded = try await perBalance.available(userID: 1)
        #expect(expected == Credits(micros: 1_000 - 472))
        #expect(folded == expected)
    }
}
