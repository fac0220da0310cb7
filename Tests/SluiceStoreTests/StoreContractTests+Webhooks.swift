import Foundation
import SluiceCore
@testable import SluiceStore
import SluiceTestSupport
import Testing

/// The webhook outbox, on SQLite and PostgreSQL alike: events written only while wanted, fanned
/// out once, and deliveries claimed oldest first per endpoint and user.
@Suite struct WebhookContractTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test(arguments: StoreBackend.available)
    func eventsAreWrittenWithWhatTheyReportAndFannedOutOnce(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "a@x", initialCredits: .zero)
            _ = try await store.credit(userID: user, amount: Credits(whole: 5), kind: .recharge, referenceID: "r0", note: nil)
            #expect(try await store.pendingWebhookEvents(limit: 10).isEmpty)

            store.recordWebhookEvents(of: [.creditRecharged, .keyCreated])
            _ = try await store.credit(userID: user, amount: Credits(whole: 2), kind: .recharge, referenceID: "r1", note: nil)
            // A repeated reference writes no entry, so no event either.
            _ = try await store.credit(userID: user, amount: Credits(whole: 2), kind: .recharge, referenceID: "r1", note: nil)
            _ = try await store.createAPIKey(userID: user, name: "k", keyHash: "h", prefix: "sk-1", limits: APIKeyLimits())
            let events = try await store.pendingWebhookEvents(limit: 10)
            #expect(events.map(\.type) == [.creditRecharged, .keyCreated])
            #expect(events.allSatisfy { $0.userID == user })
            #expect(events.first?.payload.contains(#""balance_after":7"#) == true)

            let endpoint = try await store.createWebhookEndpoint(
                url: "http://127.0.0.1:1/hook", secret: SealedSecret(ciphertext: Data([1, 2, 3]), keyVersion: 1), types: [.keyCreated])
            #expect(try await store.webhookEndpoints().map(\.id) == [endpoint])
            let delivery = NewWebhookDelivery(endpointID: endpoint, userID: user, type: .keyCreated, payload: "{}", createdAt: Self.t0)
            #expect(try await store.fanOutWebhookEvents(ids: events.map(\.id), deliveries: [delivery, delivery]))
            #expect(try await store.fanOutWebhookEvents(ids: events.map(\.id), deliveries: [delivery]) == false, "fanned out once")
            #expect(try await store.pendingWebhookEvents(limit: 10).isEmpty)
            #expect(try await store.webhookDeliveries(endpointID: endpoint, page: PageRequest()).count == 2)
        }
    }

    @Test(arguments: StoreBackend.available)
    func deliveriesAreClaimedInOrderPerUserAndRetriedAndReplayed(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let one = try await store.createUser(email: "a@x", initialCredits: .zero)
            let two = try await store.createUser(email: "b@x", initialCredits: .zero)
            let endpoint = try await store.createWebhookEndpoint(
                url: "http://127.0.0.1:1/hook", secret: SealedSecret(ciphertext: Data([1]), keyVersion: 1), types: [.keyCreated])
            store.recordWebhookEvents(of: [.keyCreated])
            _ = try await store.createAPIKey(userID: one, name: "k", keyHash: "h", prefix: "p", limits: APIKeyLimits())
            let ids = try await store.pendingWebhookEvents(limit: 10).map(\.id)
            let deliveries = [one, one, two].map { NewWebhookDelivery(endpointID: endpoint, userID: $0, type: .keyCreated, payload: "{}", createdAt: Self.t0) }
            #expect(try await store.fanOutWebhookEvents(ids: ids, deliveries: deliveries))

            let lease = Self.t0.addingTimeInterval(30)
            let first = try await store.claimDueWebhookDeliveries(now: Self.t0, until: lease, limit: 10)
            // User one's second waits behind its first; user two's goes alongside.
            #expect(first.map(\.delivery.userID) == [one, two])
            #expect(try await store.claimDueWebhookDeliveries(now: Self.t0.addingTimeInterval(1), until: lease, limit: 10).isEmpty, "leased")

            let retryAt = Self.t0.addingTimeInterval(60)
            try await store.finishWebhookDelivery(id: first[0].id, .retry(status: 503, error: "down", at: retryAt))
            try await store.finishWebhookDelivery(id: first[1].id, .delivered(status: 200, at: Self.t0))
            #expect(try await store.claimDueWebhookDeliveries(now: Self.t0.addingTimeInterval(2), until: lease, limit: 10).isEmpty, "in order")
            let again = try await store.claimDueWebhookDeliveries(now: retryAt, until: retryAt.addingTimeInterval(30), limit: 10)
            #expect(again.map(\.id) == [first[0].id])
            #expect(again.first?.attempts == 1 && again.first?.lastStatus == 503 && again.first?.lastError == "down")
            try await store.finishWebhookDelivery(id: first[0].id, .failed(status: 503, error: "gave up"))
            // With the first given up, the user's next one is free to go.
            let next = try await store.claimDueWebhookDeliveries(now: retryAt, until: retryAt.addingTimeInterval(30), limit: 10)
            #expect(next.count == 1 && next.first?.id != first[0].id)

            #expect(try await store.replayWebhookDelivery(id: first[1].id, now: retryAt))
            #expect(try await store.replayWebhookDelivery(id: 999_999, now: retryAt) == false)
            let log = try await store.webhookDeliveries(endpointID: endpoint, page: PageRequest())
            #expect(log.first { $0.id == first[1].id }?.status == "pending")
            #expect(log.first { $0.id == first[0].id }?.status == "failed")
        }
    }

    @Test(arguments: StoreBackend.available)
    func accountEventsGoToTheAccountsOwner(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let owner = try await store.createUser(email: "a@x", initialCredits: .zero)
            let secret = SealedSecret(ciphertext: Data([1]), keyVersion: 1)
            let own = try await store.addAccount(
                provider: "p", kind: .apiKey, baseURL: nil, models: ["m"], priority: 0, weight: 1, ownerUserID: owner, secret: secret)
            let shared = try await store.addAccount(
                provider: "p", kind: .apiKey, baseURL: nil, models: ["m"], priority: 0, weight: 1, ownerUserID: nil, secret: secret)
            let cooling = CooldownState(coolingUntil: Self.t0, level: 1, reason: .rateLimited)
            // Not wanted yet: nothing written.
            try await store.saveCooldown(accountID: own, scope: .account, cooling)
            #expect(try await store.pendingWebhookEvents(limit: 10).isEmpty)

            store.recordWebhookEvents(of: [.accountCooling, .accountNeedsReauth])
            try await store.saveCooldown(accountID: own, scope: .model("m"), cooling)
            try await store.markNeedsReauth(accountID: shared)
            let events = try await store.pendingWebhookEvents(limit: 10)
            #expect(events.map(\.type) == [.accountCooling, .accountNeedsReauth])
            #expect(events.map(\.userID) == [owner, nil])
            #expect(events.first?.payload.contains(#""scope":"m""#) == true)
            #expect(events.first?.payload.contains(#""reason":"rate_limited""#) == true)
        }
    }
}
