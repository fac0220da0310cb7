import Foundation
import SluiceCore
@testable import SluiceStore
import SluiceTestSupport
import Testing

func usage(_ requestID: String, user: Int64, key: Int64, charged: Int64, model: String = "m", status: Int = 200,
           at createdAt: Date = Date()) -> UsageRecord {
    UsageRecord(
        requestID: requestID, userID: user, apiKeyID: key, model: model, provider: "p", accountID: nil,
        usage: TokenUsage(promptTokens: 10, completionTokens: 5), charged: Credits(micros: charged), costEstimated: false,
        latencyMs: 3, ttftMs: 1, status: status, endReason: "completed", stream: false, createdAt: createdAt)
}

/// The money rules every store keeps, run against SQLite and PostgreSQL alike.
@Suite struct LedgerContractTests {
    @Test(arguments: StoreBackend.available)
    func creditIsIdempotentByReference(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "a@x", initialCredits: .zero)
            let first = try await store.credit(userID: user, amount: Credits(whole: 5), kind: .grant, referenceID: "g1", note: nil)
            let again = try await store.credit(userID: user, amount: Credits(whole: 5), kind: .grant, referenceID: "g1", note: nil)
            #expect(first == again)
            #expect(try await store.balance(userID: user) == Credits(whole: 5))
        }
    }

    @Test(arguments: StoreBackend.available)
    func settlementsAreWrittenOnceEvenWhenReplayed(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "a@x", initialCredits: Credits(micros: 1_000))
            let key = try await store.createAPIKey(
                userID: user, name: "k", keyHash: "h", prefix: "p", limits: APIKeyLimits(spendLimit: Credits(micros: 500)))
            let batch = [usage("r1", user: user, key: key, charged: 100), usage("r2", user: user, key: key, charged: 0)]
            let charges = try await store.recordSettlements(batch)
            #expect(charges == [PersistedCharge(
                userID: user, apiKeyID: key, charged: Credits(micros: 100), balanceAfter: Credits(micros: 900),
                keySpendRemaining: Credits(micros: 400))])
            #expect(try await store.recordSettlements(batch).isEmpty)
            #expect(try await store.balance(userID: user) == Credits(micros: 900))
            #expect(try await store.keySpendRemaining(keyID: key) == Credits(micros: 400))
            #expect(try await store.usageLogs(userID: user).count == 2)
        }
    }

    /// A batch moves each user's balance once, yet every request still gets its own ledger
    /// entry, chained in the batch's order, and the balance each charge left.
    @Test(arguments: StoreBackend.available)
    func aBatchOfSeveralUsersChainsEachLedgerInOrder(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let alice = try await store.createUser(email: "a@x", initialCredits: Credits(micros: 1_000))
            let bob = try await store.createUser(email: "b@x", initialCredits: Credits(micros: 500))
            let aliceKey = try await store.createAPIKey(userID: alice, name: "k", keyHash: "ha", prefix: "pa", limits: APIKeyLimits())
            let bobKey = try await store.createAPIKey(userID: bob, name: "k", keyHash: "hb", prefix: "pb", limits: APIKeyLimits())
            let batch = [
                usage("b1", user: bob, key: bobKey, charged: 30),
                usage("a1", user: alice, key: aliceKey, charged: 100),
                usage("a2", user: alice, key: aliceKey, charged: 0),
                usage("b2", user: bob, key: bobKey, charged: 20),
                usage("a1", user: alice, key: aliceKey, charged: 100),  // the same request twice: charged once
                usage("a3", user: alice, key: aliceKey, charged: 50),
            ]
            let charges = try await store.recordSettlements(batch)
            #expect(charges.map { "\($0.userID):\($0.charged.micros):\($0.balanceAfter.micros)" }.sorted()
                == ["\(alice):100:900", "\(alice):50:850", "\(bob):20:450", "\(bob):30:470"].sorted())
            for (user, expected) in [(alice, [("a1", 1_000, 900), ("a3", 900, 850)]), (bob, [("b1", 500, 470), ("b2", 470, 450)])] {
                let consumed = try await store.ledger(userID: user).filter { $0.kind == .consume }
                #expect(consumed.map { "\($0.referenceID):\($0.balanceBefore.micros):\($0.balanceAfter.micros)" }
                    == expected.map { "\($0.0):\($0.1):\($0.2)" })
            }
            #expect(try await store.balance(userID: alice) == Credits(micros: 850))
            #expect(try await store.balance(userID: bob) == Credits(micros: 450))
            #expect(try await store.usageLogs(userID: alice).map(\.requestID) == ["a1", "a2", "a3"])
        }
    }

    /// A batch larger than one statement's rows is still written whole, and exactly.
    @Test(arguments: StoreBackend.available)
    func aLargeBatchIsWrittenWhole(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "a@x", initialCredits: Credits(micros: 1_000_000))
            let key = try await store.createAPIKey(userID: user, name: "k", keyHash: "h", prefix: "p", limits: APIKeyLimits())
            let count = PostgresStore.rowsPerInsert * 2 + 345
            let charges = try await store.recordSettlements((0..<count).map { usage("r\($0)", user: user, key: key, charged: 3) })
            #expect(charges.count == count)
            #expect(charges.last?.balanceAfter == Credits(micros: 1_000_000 - 3 * Int64(count)))
            #expect(try await store.balance(userID: user) == Credits(micros: 1_000_000 - 3 * Int64(count)))
            #expect(try await store.ledger(userID: user).filter { $0.kind == .consume }.count == count)
        }
    }

    /// A batch that names a user who is not there writes nothing: not the other users' charges
    /// either, so that the writer's retry cannot charge anyone twice.
    @Test(arguments: StoreBackend.available)
    func aBatchThatFailsWritesNothing(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "a@x", initialCredits: Credits(micros: 1_000))
            let key = try await store.createAPIKey(userID: user, name: "k", keyHash: "h", prefix: "p", limits: APIKeyLimits())
            let batch = [usage("r1", user: user, key: key, charged: 10), usage("r2", user: user + 1_000, key: key, charged: 10)]
            await #expect(throws: (any Error).self) { try await store.recordSettlements(batch) }
            #expect(try await store.balance(userID: user) == Credits(micros: 1_000))
            #expect(try await store.usageLogs(userID: user).isEmpty)
            #expect(try await store.ledger(userID: user).filter { $0.kind == .consume }.isEmpty)
        }
    }

    /// Writers racing on one user (several settlement batches, some replaying the same request
    /// ids, and grants) lose nothing and charge nothing twice.
    @Test(arguments: StoreBackend.available)
    func concurrentWritersKeepTheLedgerBalanced(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "a@x", initialCredits: Credits(micros: 100_000))
            let key = try await store.createAPIKey(userID: user, name: "k", keyHash: "h", prefix: "p", limits: APIKeyLimits())
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<8 {
                    group.addTask {
                        // Writers 0–3 and 4–7 send the same ids: each id is charged once.
                        let ids = (0..<10).map { "r\(writer % 4)-\($0)" }
                        _ = try await store.recordSettlements(ids.map { usage($0, user: user, key: key, charged: 7) })
                        _ = try await store.credit(userID: user, amount: Credits(micros: 3), kind: .grant, referenceID: "g\(writer % 4)", note: nil)
                    }
                }
                try await group.waitForAll()
            }
            let ledger = try await store.ledger(userID: user)
            var running: Int64 = 0
            for entry in ledger {
                #expect(entry.balanceBefore.micros == running)
                running += entry.amount.micros
                #expect(entry.balanceAfter.micros == running)
            }
            #expect(running == 100_000 - 40 * 7 + 4 * 3)
            #expect(try await store.balance(userID: user)?.micros == running)
            let consumed = ledger.filter { $0.kind == .consume }.reduce(Int64(0)) { $0 - $1.amount.micros }
            let logged = try await store.usageLogs(userID: user).reduce(Int64(0)) { $0 + $1.charged.micros }
            #expect(consumed == logged && logged == 40 * 7)
        }
    }

    @Test(arguments: StoreBackend.available)
    func redemptionCodesHonourTheirLimitsAndCreditOnce(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let admin = try await store.createUser(email: "admin@x", initialCredits: .zero)
            let users = try await [store.createUser(email: "a@x", initialCredits: .zero), store.createUser(email: "b@x", initialCredits: .zero),
                                   store.createUser(email: "c@x", initialCredits: .zero)]
            _ = try await store.createRedemptionCode(NewRedemptionCode(
                codeHash: "two", prefix: "RC-", value: Credits(whole: 2), maxUses: 2, expiresAt: nil, createdBy: admin))
            _ = try await store.createRedemptionCode(NewRedemptionCode(
                codeHash: "old", prefix: "RC-", value: Credits(whole: 2), maxUses: 9, expiresAt: Date(timeIntervalSince1970: 1), createdBy: nil))
            let now = Date()
            guard case .credited(let entry) = try await store.redeem(codeHash: "two", userID: users[0], now: now) else {
                Issue.record("the first redemption should credit")
                return
            }
            #expect(entry.amount == Credits(whole: 2) && entry.kind == .recharge)
            #expect(try await store.redeem(codeHash: "two", userID: users[0], now: now) == .alreadyRedeemed)
            if case .credited = try await store.redeem(codeHash: "two", userID: users[1], now: now) {} else { Issue.record("second user") }
            #expect(try await store.redeem(codeHash: "two", userID: users[2], now: now) == .usedUp)
            #expect(try await store.redeem(codeHash: "old", userID: users[2], now: now) == .notFound)
            #expect(try await store.redeem(codeHash: "nope", userID: users[2], now: now) == .notFound)
            #expect(try await store.balance(userID: users[2]) == .zero)
            #expect(try await store.transactions(LedgerQuery(userID: users[0], kind: .recharge)).map(\.id) == [entry.id])
            #expect(try await store.transactions(LedgerQuery(userID: users[0], kind: .consume)).isEmpty)
        }
    }

    @Test(arguments: StoreBackend.available)
    func storedRepliesKeepTheFirstAnswer(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let first = StoredReply(requestHash: "h1", status: 201, body: "{\"a\":1}")
            #expect(try await store.storedReply(scope: "s", key: "k") == nil)
            let saved = try await store.saveReply(scope: "s", key: "k", first)
            #expect(saved == first)
            #expect(try await store.saveReply(scope: "s", key: "k", StoredReply(requestHash: "h2", status: 200, body: "{}")) == first)
            #expect(try await store.storedReply(scope: "s", key: "k") == first)
            #expect(try await store.storedReply(scope: "other", key: "k") == nil)
        }
    }
}
