import Foundation
import SluiceCore
@testable import SluiceStore
import SluiceTestSupport
import Testing

/// The metering records, on SQLite and PostgreSQL alike.
@Suite struct MeteringContractTests {
    func event(_ requestID: String, user: Int64, service: Int64, type: String = "chat", model: String? = "m", credits: Int64 = 1) -> NewUsageEvent {
        NewUsageEvent(
            userID: user, serviceAccountID: service, requestID: requestID, eventType: type, endpoint: "/x", modelName: model, provider: "p",
            promptTokens: 10, completionTokens: 5, tokensUsed: 15, creditsCharged: Credits(whole: credits), calculationMethod: "provided",
            sessionID: nil, traceID: nil, metadata: #"{"a":1}"#)
    }

    @Test(arguments: StoreBackend.available)
    func tokensAreFoundByHashAndRevokedOnce(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let account = try await store.createServiceAccount(name: "images", createdBy: nil)
            await #expect(throws: StoreConflict.self) { try await store.createServiceAccount(name: "images", createdBy: nil) }
            let id = try await store.createServiceToken(NewServiceToken(
                serviceAccountID: account.id, name: "t", tokenHash: "h1", prefix: "sst-x", scopes: [.usageWrite, .usersRead], expiresAt: nil))
            let found = try #require(try await store.serviceToken(hash: "h1"))
            #expect(found.id == id && found.scopes == [.usageWrite, .usersRead] && found.isLive(at: Date()))
            try await store.touchServiceToken(id: id, at: Date(timeIntervalSince1970: 1_800_000_000))
            #expect(try await store.serviceTokens(serviceAccountID: account.id).first?.lastUsedAt == Date(timeIntervalSince1970: 1_800_000_000))
            #expect(try await store.revokeServiceToken(id: id, now: Date()))
            #expect(try await store.revokeServiceToken(id: id, now: Date()) == false)
            #expect(try await store.serviceToken(hash: "h1")?.isLive(at: Date()) == false)
        }
    }

    @Test(arguments: StoreBackend.available)
    func usersAreEnsuredOnceByExternalID(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let (made, created) = try await store.ensureUser(externalID: "auth0|1", email: "a@x", name: "Ada")
            #expect(created && made.externalID == "auth0|1" && made.name == "Ada")
            let (again, createdAgain) = try await store.ensureUser(externalID: "auth0|1", email: "other@x", name: nil)
            #expect(!createdAgain && again.id == made.id)
            #expect(try await store.user(externalID: "auth0|1")?.id == made.id)
            await #expect(throws: StoreConflict.self) { try await store.ensureUser(externalID: "auth0|2", email: "A@x", name: nil) }
        }
    }

    @Test(arguments: StoreBackend.available)
    func usageEventsAreRecordedOncePerServiceAndKeyAndTallied(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "a@x", initialCredits: .zero)
            let one = try await store.createServiceAccount(name: "one", createdBy: nil).id
            let two = try await store.createServiceAccount(name: "two", createdBy: nil).id
            let first = try await store.recordUsageEvents([
                event("r1", user: user, service: one), event("r1", user: user, service: one, credits: 9), event("r1", user: user, service: two),
                event("r2", user: user, service: one, type: "image", model: nil, credits: 3),
            ])
            #expect(first.map(\.created) == [true, false, true, true])
            #expect(first[1].event.id == first[0].event.id && first[1].event.event.creditsCharged == Credits(whole: 1))
            #expect(try await store.usageEvent(id: first[0].event.id)?.event.metadata == #"{"a":1}"#)
            let stats = try await store.usageEventStats(UsageEventQuery(userID: user))
            #expect(stats.totalRecords == 3 && stats.totalCredits == Credits(whole: 5) && stats.totalTokens == 45)
            #expect(stats.byEventType == ["chat": 2, "image": 1] && stats.byModel == ["m": 2] && stats.byProvider == ["p": 3])
            #expect(try await store.usageEvents(UsageEventQuery(userID: user, eventType: "image")).map(\.event.requestID) == ["r2"])
            #expect(try await store.usageEvents(UsageEventQuery(userID: user, page: PageRequest(limit: 2))).count == 2)
        }
    }
}
