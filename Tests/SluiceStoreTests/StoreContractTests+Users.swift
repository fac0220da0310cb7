import Foundation
import SluiceCore
@testable import SluiceStore
import SluiceTestSupport
import Testing

/// Users, keys, sign-in sessions and activity, the same on every store.
@Suite struct UserContractTests {
    @Test(arguments: StoreBackend.available)
    func emailsAreUniqueWithoutRegardToCase(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let id = try await store.createUser(NewUser(email: "Ann@Example.com", passwordHash: "bcrypt", initialCredits: Credits(whole: 3)))
            await #expect(throws: StoreConflict(field: "email")) { try await store.createUser(email: "ann@example.COM", initialCredits: .zero) }
            #expect(try await store.user(email: "ANN@example.com")?.id == id)
            #expect(try await store.passwordHash(userID: id) == "bcrypt")
            // The initial credits arrive as a grant in the ledger.
            #expect(try await store.ledger(userID: id).map(\.kind) == [.grant])
            #expect(try await store.user(id: id)?.balance == Credits(whole: 3))
        }
    }

    @Test(arguments: StoreBackend.available)
    func updatesChangeOnlyWhatTheyName(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let id = try await store.createUser(NewUser(email: "a@x", role: .user, plan: "free"))
            let updated = try #require(try await store.updateUser(id: id, UserUpdate(trustLevel: 3, poolPreference: .sharedFirst)))
            #expect(updated.trustLevel == 3 && updated.poolPreference == .sharedFirst && updated.plan == "free" && updated.status == .active)
            try await store.setUserStatus(id: id, .muted)
            #expect(try await store.user(id: id)?.status == .muted)
            #expect(try await store.user(id: id)?.trustLevel == 3)
            #expect(try await store.updateUser(id: id + 100, UserUpdate(plan: "pro")) == nil)
        }
    }

    @Test(arguments: StoreBackend.available)
    func usersAreSearchedAndPagedNewestFirst(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            var ids: [Int64] = []
            for n in 0..<5 { ids.append(try await store.createUser(email: "user\(n)@team.io", initialCredits: .zero)) }
            _ = try await store.createUser(email: "other@else.io", initialCredits: .zero)
            #expect(try await store.users(search: "TEAM", page: PageRequest(limit: 10)).map(\.id) == ids.reversed())
            #expect(try await store.users(search: "team", page: PageRequest(limit: 2, offset: 1)).map(\.id) == [ids[3], ids[2]])
            #expect(try await store.users(search: "team", page: PageRequest(limit: 10, beforeID: ids[2])).map(\.id) == [ids[1], ids[0]])
            #expect(try await store.users(search: nil, page: PageRequest(limit: 100)).count == 6)
        }
    }

    @Test(arguments: StoreBackend.available)
    func keysCarryTheirLimitsTheirOwnerAndTheirRevocation(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "a@x", initialCredits: .zero)
            _ = try await store.updateUser(id: user, UserUpdate(trustLevel: 2, plan: "pro"))
            let limits = APIKeyLimits(
                allowedModels: ["m"], expiresAt: Date(timeIntervalSince1970: 4_000_000_000), requestsPerMinute: 60, tokensPerMinute: 9_000,
                spendLimit: Credits(whole: 4), ipAllowlist: [try #require(IPNetwork("10.0.0.0/8"))])
            let id = try await store.createAPIKey(userID: user, name: "k", keyHash: "abc", prefix: "sk-", limits: limits)
            let other = try await store.createAPIKey(userID: user, name: "plain", keyHash: "def", prefix: "sk-", limits: APIKeyLimits())
            let record = try #require(try await store.apiKey(hash: "abc"))
            #expect(record.limits == limits && record.plan == "pro" && record.trustLevel == 2 && record.name == "k")
            #expect(try await store.keySpendRemaining(keyID: id) == Credits(whole: 4))
            #expect(try await store.keySpendRemaining(keyID: other) == nil)
            #expect(try await store.apiKeys(userID: user).map(\.id) == [other, id])
            try await store.setUserStatus(id: user, .disabled)
            #expect(try await store.revokeAPIKey(id: id, userID: user + 1) == nil)
            #expect(try await store.revokeAPIKey(id: id, userID: user) == "abc")
            #expect(try await store.revokeAPIKey(id: id, userID: nil) == nil)
            let revoked = try #require(try await store.apiKey(hash: "abc"))
            #expect(revoked.userStatus == .disabled && revoked.revokedAt != nil && !revoked.isUsable(at: Date()))
            #expect(try await store.apiKeys(userID: user).map(\.id) == [other])
            #expect(try await store.revokeAPIKey(id: other, userID: nil) == "def")
            #expect(try await store.apiKey(hash: "nope") == nil)
        }
    }

    @Test(arguments: StoreBackend.available)
    func aReusedRefreshTokenRevokesItsWholeSignIn(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "a@x", initialCredits: .zero)
            let now = Date()
            let later = now.addingTimeInterval(3600)
            try await store.storeRefreshToken(userID: user, familyID: "f", tokenHash: "t1", expiresAt: later)
            #expect(try await store.rotateRefreshToken(tokenHash: "t1", successorHash: "t2", expiresAt: later, now: now)
                == .rotated(userID: user, familyID: "f"))
            #expect(try await store.sessionIsLive(familyID: "f"))
            #expect(try await store.rotateRefreshToken(tokenHash: "t1", successorHash: "t3", expiresAt: later, now: now)
                == .reused(userID: user, familyID: "f"))
            #expect(try await !store.sessionIsLive(familyID: "f"))
            #expect(try await store.rotateRefreshToken(tokenHash: "t2", successorHash: "t4", expiresAt: later, now: now) == .invalid)
            // Expired and unknown tokens are invalid; signing out everywhere ends every family.
            try await store.storeRefreshToken(userID: user, familyID: "g", tokenHash: "u1", expiresAt: now.addingTimeInterval(-1))
            #expect(try await store.rotateRefreshToken(tokenHash: "u1", successorHash: "u2", expiresAt: later, now: now) == .invalid)
            #expect(try await store.rotateRefreshToken(tokenHash: "none", successorHash: "u3", expiresAt: later, now: now) == .invalid)
            try await store.storeRefreshToken(userID: user, familyID: "h", tokenHash: "v1", expiresAt: later)
            try await store.revokeAllSessions(userID: user)
            #expect(try await !store.sessionIsLive(familyID: "h"))
        }
    }

    /// Two sign-ins racing with one refresh token: exactly one rotates it.
    @Test(arguments: StoreBackend.available)
    func aRefreshTokenRotatesOnceUnderRacingRequests(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "a@x", initialCredits: .zero)
            let later = Date().addingTimeInterval(3600)
            try await store.storeRefreshToken(userID: user, familyID: "f", tokenHash: "t", expiresAt: later)
            let outcomes = try await withThrowingTaskGroup(of: RefreshRotation.self) { group in
                for n in 0..<6 {
                    group.addTask { try await store.rotateRefreshToken(tokenHash: "t", successorHash: "s\(n)", expiresAt: later, now: Date()) }
                }
                return try await group.reduce(into: [RefreshRotation]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 == .rotated(userID: user, familyID: "f") }.count == 1)
        }
    }

    @Test(arguments: StoreBackend.available)
    func activityIsPagedNewestFirst(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "a@x", initialCredits: .zero)
            for n in 0..<4 {
                try await store.logActivity(ActivityEntry(userID: user, actorID: n == 0 ? nil : user, action: "a\(n)", detail: "d", ip: "127.0.0.1"))
            }
            let page = try await store.activity(userID: user, page: PageRequest(limit: 3))
            #expect(page.map(\.action) == ["a3", "a2", "a1"])
            let rest = try await store.activity(userID: user, page: PageRequest(limit: 3, beforeID: page[2].id))
            #expect(rest.map(\.action) == ["a0"] && rest[0].actorID == nil && rest[0].ip == "127.0.0.1")
        }
    }
}
