import Foundation
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

@Suite struct PoolPreferenceTests {
    /// A signed-up user with credits, and an API key of theirs.
    func fundedUser(_ h: Harness) async throws -> (Harness.Session, String) {
        let user = try await h.signUp()
        try await h.fund(user)
        return (user, try #require(try await h.api("/api/api-keys", method: .POST, body: "{}", as: user).json?["key"] as? String))
    }

    func servedBy(_ h: Harness) -> [String?] { h.control.requests.map { $0.authorization?.replacingOccurrences(of: "Bearer ", with: "") } }

    /// Three failing accounts of the user's own spend their tier's attempts, not the request's:
    /// the shared pool is still tried, and a request that finds both tiers failing stops after
    /// `max_attempts` in each.
    @Test func failingOwnAccountsNeverStarveTheUserOfTheSharedPool() async throws {
        try await Harness.run { h in
            let (user, key) = try await fundedUser(h)
            for index in 1...4 {
                try await h.account(secret: "mine-\(index)", owner: user.userID)
                h.control.set(.fail(status: 503), for: "mine-\(index)")
            }
            try await h.account(secret: "shared")
            let served = try await h.chat(key)
            #expect(served.status == 200, "\(served.text)")
            #expect(servedBy(h).count == 4 && servedBy(h).last == "shared")
            #expect(servedBy(h).prefix(3).allSatisfy { $0?.hasPrefix("mine-") == true })

            // Both tiers failing, for another user: three of each, then the client hears it.
            let (other, otherKey) = try await fundedUser(h)
            for index in 1...4 {
                try await h.account(secret: "theirs-\(index)", owner: other.userID)
                h.control.set(.fail(status: 503), for: "theirs-\(index)")
                try await h.account(secret: "shared-\(index)")
                h.control.set(.fail(status: 503), for: "shared-\(index)")
            }
            h.control.set(.fail(status: 503), for: "shared")
            let before = servedBy(h).count
            let refused = try await h.chat(otherKey)
            #expect(refused.status == 502)
            let tried = servedBy(h).dropFirst(before)
            #expect(tried.count == 6 && tried.filter { $0?.hasPrefix("theirs-") == true }.count == 3, "\(tried)")
        }
    }

    /// Each user sets which tier their requests try first, through `PATCH /api/auth/me`.
    @Test func dedicatedFirstSharedFirstAndDedicatedOnly() async throws {
        try await Harness.run { h in
            let (user, key) = try await fundedUser(h)
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
