import Foundation
import SluiceCore
@testable import SluiceStore
import SluiceTestSupport
import Testing

/// Checkpoints of running requests, on SQLite and PostgreSQL alike: a dead instance's rows are
/// claimed once its lease lapsed, by one claimer, and a request that settled is never claimed.
@Suite struct InFlightContractTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func charge(_ requestID: String, user: Int64, key: Int64, cost: Int64) -> InFlightCharge {
        var record = usage(requestID, user: user, key: key, charged: cost)
        record.endReason = "instance_lost"
        record.costEstimated = true
        record.stream = true
        return InFlightCharge(record: record, keyBudgeted: true)
    }

    /// A user with 1,000 micro-credits and a key of theirs.
    func userAndKey(_ store: any GatewayStore) async throws -> (user: Int64, key: Int64) {
        let user = try await store.createUser(email: "a@x", initialCredits: Credits(micros: 1_000))
        return (user, try await store.createAPIKey(userID: user, name: "k", keyHash: "h", prefix: "p", limits: APIKeyLimits()))
    }

    /// What `instance` claims `seconds` after t0, leasing it for 30 s.
    func claim(_ store: any GatewayStore, by instance: String, at seconds: TimeInterval, limit: Int = 10) async throws -> [InFlightCharge] {
        let now = Self.t0.addingTimeInterval(seconds)
        return try await store.claimLapsedInFlight(instanceID: instance, now: now, leaseUntil: now.addingTimeInterval(30), limit: limit)
    }

    @Test(arguments: StoreBackend.available)
    func aLapsedRowIsClaimedOnceByAnotherInstanceWithWhatItWouldCost(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let (user, key) = try await userAndKey(store)
            try await store.checkpointInFlight([charge("r1", user: user, key: key, cost: 40)], instanceID: "dead", leaseUntil: Self.t0)
            // A later checkpoint refreshes the cost and the lease.
            try await store.checkpointInFlight(
                [charge("r1", user: user, key: key, cost: 70)], instanceID: "dead", leaseUntil: Self.t0.addingTimeInterval(10))

            #expect(try await claim(store, by: "live", at: 5).isEmpty)
            #expect(try await claim(store, by: "dead", at: 11).isEmpty, "an instance does not claim its own rows")
            let claimed = try await claim(store, by: "live", at: 11)
            #expect(claimed.count == 1)
            let row = try #require(claimed.first)
            #expect(row.record.requestID == "r1" && row.record.charged == Credits(micros: 70) && row.keyBudgeted)
            #expect(row.record.endReason == "instance_lost" && row.record.costEstimated && row.record.stream && row.record.checkpointed)
            #expect(row.record.usage == TokenUsage(promptTokens: 10, completionTokens: 5))
            // The claimer's lease runs now: no one else takes the row meanwhile.
            #expect(try await claim(store, by: "third", at: 20).isEmpty)

            // Its settlement deletes the row.
            var settled = row.record
            settled.charged = Credits(micros: 70)
            _ = try await store.recordSettlements([settled])
            #expect(try await claim(store, by: "third", at: 99).isEmpty)
            #expect(try await store.balance(userID: user) == Credits(micros: 930))
        }
    }

    @Test(arguments: StoreBackend.available)
    func aRequestThatSettledIsNeitherWrittenBackNorClaimed(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let (user, key) = try await userAndKey(store)
            // Settled without the checkpoint flag (its checkpoint raced with its end): the row
            // written before stays, and the claim drops it.
            try await store.checkpointInFlight([charge("r1", user: user, key: key, cost: 40)], instanceID: "a", leaseUntil: Self.t0)
            _ = try await store.recordSettlements([usage("r1", user: user, key: key, charged: 40), usage("r2", user: user, key: key, charged: 5)])
            // A checkpoint taken before the settle but written after it is not written back.
            try await store.checkpointInFlight([charge("r2", user: user, key: key, cost: 5)], instanceID: "a", leaseUntil: Self.t0)
            #expect(try await claim(store, by: "b", at: 1).isEmpty)
            #expect(try await store.balance(userID: user) == Credits(micros: 955))
        }
    }

    @Test(arguments: StoreBackend.available)
    func aClaimTakesAtMostItsLimit(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let (user, key) = try await userAndKey(store)
            try await store.checkpointInFlight(
                (1...5).map { charge("r\($0)", user: user, key: key, cost: 1) }, instanceID: "dead", leaseUntil: Self.t0)
            let first = try await claim(store, by: "b", at: 1, limit: 3)
            let second = try await claim(store, by: "c", at: 1, limit: 3)
            #expect(first.count == 3 && second.count == 2)
            #expect(Set((first + second).map(\.record.requestID)) == Set((1...5).map { "r\($0)" }))
        }
    }
}
