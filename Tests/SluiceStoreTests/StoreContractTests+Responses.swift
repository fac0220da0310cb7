import Foundation
import SluiceCore
@testable import SluiceStore
import SluiceTestSupport
import Testing

/// Conversations kept for `previous_response_id`, the same on every store.
@Suite struct ResponseContractTests {
    @Test(arguments: StoreBackend.available)
    func aKeptResponseIsItsKeysAloneUntilItExpires(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "r@x", initialCredits: .zero)
            let key = try await store.createAPIKey(userID: user, name: "k", keyHash: "h1", prefix: "p", limits: APIKeyLimits())
            let otherKey = try await store.createAPIKey(userID: user, name: "k2", keyHash: "h2", prefix: "p", limits: APIKeyLimits())
            let now = Date(timeIntervalSince1970: 1_800_000_000)
            try await store.saveResponse(id: "resp_1", apiKeyID: key, messages: #"[{"role":"user"}]"#, now: now, expiresAt: now.addingTimeInterval(60))
            #expect(try await store.storedResponse(id: "resp_1", apiKeyID: key, now: now) == #"[{"role":"user"}]"#)
            #expect(try await store.storedResponse(id: "resp_1", apiKeyID: otherKey, now: now) == nil)
            #expect(try await store.storedResponse(id: "resp_2", apiKeyID: key, now: now) == nil)
            #expect(try await store.storedResponse(id: "resp_1", apiKeyID: key, now: now.addingTimeInterval(61)) == nil)
            // Saving after the expiry forgets what expired.
            try await store.saveResponse(id: "resp_3", apiKeyID: key, messages: "[]", now: now.addingTimeInterval(120), expiresAt: now.addingTimeInterval(180))
            #expect(try await store.storedResponse(id: "resp_1", apiKeyID: key, now: now) == nil)
            #expect(try await store.storedResponse(id: "resp_3", apiKeyID: key, now: now.addingTimeInterval(121)) == "[]")
        }
    }
}
