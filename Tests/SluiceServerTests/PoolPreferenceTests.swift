import Foundation
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

@Suite struct PoolPreferenceTests {
    func servedBy(_ h: Harness) -> [String?] { h.control.requests.map { $0.authorization?.replacingOccurrences(of: "Bearer ", with: "") } }

    /// Each user sets which tier their requests try first, through `PATCH /api/auth/me`.
    @Test func dedicatedFirstSharedFirstAndDedicatedOnly() async throws {
        try await Harness.run { h in
            let user = try await h.signUp()
            try await h.fund(user)
            let key = try #require(try await h.api("/api/api-keys", method: .POST, body: "{}", as: user).json?["key"] as? String)
            try await h.account(secret: "shared")
            try await h.account(secret: "mine", owner: user.userID)
            func prefer(_ preference: String) async throws {
                let reply = try await h.api("/api/auth/me", method: .PATCH, body: #"{"pool_preference":"\#(preference)"}"#, as: user)
                #expect(reply.status == 200 && reply.json?["pool_preference"] as? String == preference)
                // The preference travels with the key's cache entry; drop it so the next request reads it.
                h.gateway.authenticator.forget(hash: KeyAuthenticator.hash(key))
            }
            #expect(try await h.api("/api/auth/me", as: user).json?["pool_preference"] as? String == "dedicated_first")
            #expect(try await h.chat(key).status == 200)
            try await prefer("shared_first")
            #expect(try await h.chat(key).status == 200)
            #expect(servedBy(h) == ["mine", "shared"])

            // Dedicated only: with the own account failing, the shared one is never tried.
            try await prefer("dedicated_only")
            h.control.set(.fail(status: 500), for: "mine")
            let refused = try await h.chat(key)
            #expect(refused.status == 502)
            #expect(servedBy(h) == ["mine", "shared", "mine"])

            let bad = try await h.api("/api/auth/me", method: .PATCH, body: #"{"pool_preference":"anything"}"#, as: user)
            #expect(bad.status == 400 && bad.error?["param"] as? String == "pool_preference")
        }
    }
}
