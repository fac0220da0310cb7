import Foundation
import SluiceCore
@testable import SluiceStore
import SluiceTestSupport
import Testing

private let box = try! SecretBox(keys: [1: Data(repeating: 3, count: 32)], activeVersion: 1)

/// Upstream accounts and their persisted state, the same on every store.
@Suite struct AccountContractTests {
    @Test(arguments: StoreBackend.available)
    func accountsAreAddedChangedAndRemoved(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let owner = try await store.createUser(email: "o@x", initialCredits: .zero)
            let shared = try await store.addAccount(
                provider: "openai", kind: .apiKey, baseURL: nil, models: [], priority: 1, weight: 2, ownerUserID: nil,
                secret: try box.seal("sk-1"))
            let own = try await store.addAccount(
                provider: "openai", kind: .oauth, baseURL: "http://127.0.0.1:1", models: ["a", "b"], priority: 0, weight: 1,
                ownerUserID: owner, sharing: AccountSharing(shareMode: .surplus, reservePercent: 30, maxConcurrency: 4),
                secret: try box.seal("{}"))
            let record = try #require(try await store.account(id: own))
            #expect(record.kind == .oauth && record.models == ["a", "b"] && record.baseURL == "http://127.0.0.1:1" && record.ownerUserID == owner)
            #expect(record.sharing == AccountSharing(shareMode: .surplus, reservePercent: 30, maxConcurrency: 4))
            #expect(try record.enabled && !record.needsReauth && record.secretGeneration == 0 && box.open(record.secret) == "{}")
            #expect(try await store.accounts(ownerUserID: owner).map(\.id) == [own])
            #expect(try await store.accounts(ownerUserID: nil).map(\.id) == [shared, own])

            // nil fields stay; new sharing replaces the old, a nil cap included.
            let changed = try #require(try await store.updateAccount(
                id: own, AccountUpdate(priority: 5, enabled: false, sharing: AccountSharing(shareMode: .ownerOnly, reservePercent: 10))))
            #expect(changed.priority == 5 && changed.weight == 1 && !changed.enabled && changed.models == ["a", "b"])
            #expect(changed.sharing == AccountSharing(shareMode: .ownerOnly, reservePercent: 10, maxConcurrency: nil))
            #expect(try await store.updateAccount(id: own, AccountUpdate(models: ["c"]))?.sharing.reservePercent == 10)
            #expect(try await store.enabledAccounts().map(\.id) == [shared])

            try await store.saveCooldown(
                accountID: shared, scope: CooldownScope(model: nil),
                CooldownState(coolingUntil: Date().addingTimeInterval(600), level: 1, reason: .transient))
            try await store.removeAccount(id: shared)
            #expect(try await store.account(id: shared) == nil)
            #expect(try await store.accounts(ownerUserID: nil).map(\.id) == [own])
            #expect(try await store.updateAccount(id: shared, AccountUpdate(priority: 1)) == nil)
            #expect(try await store.liveCooldowns(now: Date()).isEmpty)
        }
    }

    @Test(arguments: StoreBackend.available)
    func aNewSecretClearsNeedsReauthAndCountsAGeneration(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let id = try await store.addAccount(
                provider: "p", kind: .apiKey, baseURL: nil, models: [], priority: 0, weight: 1, ownerUserID: nil, secret: try box.seal("old"))
            try await store.markNeedsReauth(accountID: id)
            #expect(try await store.account(id: id)?.needsReauth == true)
            try await store.updateAccountSecret(id: id, try box.seal("new"))
            let record = try #require(try await store.account(id: id))
            #expect(try !record.needsReauth && record.secretGeneration == 1 && box.open(record.secret) == "new")
        }
    }

    @Test(arguments: StoreBackend.available)
    func rotationsDeriveFromTheStoredSecretSoNoneIsLost(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let id = try await store.addAccount(
                provider: "p", kind: .cookie, baseURL: nil, models: [], priority: 0, weight: 1, ownerUserID: nil, secret: try box.seal("a=0"))
            // Twenty rotations at once, each adding its own cookie: every one lands.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for n in 1...20 {
                    group.addTask {
                        _ = try await store.rotateAccountSecret(id: id) { stored in try box.seal(try box.open(stored.sealed) + "; c\(n)=1") }
                    }
                }
                try await group.waitForAll()
            }
            let record = try #require(try await store.account(id: id))
            let cookies = Set(try box.open(record.secret).split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) })
            #expect(cookies == Set(["a=0"] + (1...20).map { "c\($0)=1" }))
            #expect(record.secretGeneration == 20)
            // A change that returns nil writes nothing; an owner's new secret counts as a generation too.
            #expect(try await store.rotateAccountSecret(id: id) { _ in nil }?.generation == 20)
            try await store.updateAccountSecret(id: id, try box.seal("fresh=1"))
            #expect(try await store.account(id: id)?.secretGeneration == 21)
            #expect(try await store.rotateAccountSecret(id: id + 1) { _ in nil } == nil)
        }
    }

    @Test(arguments: StoreBackend.available)
    func cooldownsAreUpsertedPerScopeAndExpiredOnesDropped(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let id = try await store.addAccount(
                provider: "p", kind: .apiKey, baseURL: nil, models: [], priority: 0, weight: 1, ownerUserID: nil, secret: try box.seal("k"))
            let now = Date(unixMillisForTest: Date().unixMillisForTest)
            let live = CooldownState(
                coolingUntil: now.addingTimeInterval(900), level: 2, reason: .quotaExhausted, verifyAt: now.addingTimeInterval(225), lastFailureAt: now)
            try await store.saveCooldown(
                accountID: id, scope: CooldownScope(model: "m"), CooldownState(coolingUntil: now.addingTimeInterval(5), level: 1, reason: .rateLimited))
            try await store.saveCooldown(accountID: id, scope: CooldownScope(model: "m"), live)
            try await store.saveCooldown(
                accountID: id, scope: CooldownScope(model: nil), CooldownState(coolingUntil: now.addingTimeInterval(-1), level: 1, reason: .transient))
            #expect(try await store.liveCooldowns(now: now) == [StoredCooldown(accountID: id, scope: CooldownScope(model: "m"), state: live)])
            // A state with no cooldown in it deletes the row, as deleteCooldown does.
            try await store.saveCooldown(accountID: id, scope: CooldownScope(model: "m"), CooldownState())
            #expect(try await store.liveCooldowns(now: now).isEmpty)
        }
    }
}

@Suite struct UsageQueryContractTests {
    @Test(arguments: StoreBackend.available)
    func usageIsFilteredPagedAndTotalled(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "a@x", initialCredits: Credits(whole: 1))
            let other = try await store.createUser(email: "b@x", initialCredits: Credits(whole: 1))
            let key = try await store.createAPIKey(userID: user, name: "k", keyHash: "h1", prefix: "p", limits: APIKeyLimits())
            let otherKey = try await store.createAPIKey(userID: other, name: "k", keyHash: "h2", prefix: "p", limits: APIKeyLimits())
            let dayOne = Date(timeIntervalSince1970: 1_700_000_000)  // 2023-11-14 UTC
            let dayTwo = dayOne.addingTimeInterval(86_400)
            _ = try await store.recordSettlements([
                usage("r1", user: user, key: key, charged: 10, model: "m1", at: dayOne),
                usage("r2", user: user, key: key, charged: 20, model: "m2", status: 502, at: dayOne),
                usage("r3", user: user, key: key, charged: 30, model: "m1", at: dayTwo),
                usage("r4", user: other, key: otherKey, charged: 40, model: "m1", at: dayTwo),
            ])
            let mine = try await store.usage(UsageQuery(userID: user))
            #expect(mine.map(\.record.requestID) == ["r3", "r2", "r1"])
            #expect(try await store.usage(UsageQuery(userID: user, model: "m1")).map(\.record.requestID) == ["r3", "r1"])
            #expect(try await store.usage(UsageQuery(userID: nil, status: 502)).map(\.record.requestID) == ["r2"])
            #expect(try await store.usage(UsageQuery(userID: user, from: dayTwo)).map(\.record.requestID) == ["r3"])
            #expect(try await store.usage(UsageQuery(userID: user, to: dayTwo)).map(\.record.requestID) == ["r2", "r1"])
            #expect(try await store.usage(UsageQuery(userID: user, page: PageRequest(limit: 1, beforeID: mine[0].id))).map(\.record.requestID) == ["r2"])
            #expect(mine.last?.record == usage("r1", user: user, key: key, charged: 10, model: "m1", at: dayOne))

            let stats = try await store.usageStats(UsageQuery(userID: user))
            #expect(stats.total == UsageTotals(requests: 3, errors: 1, promptTokens: 30, completionTokens: 15, credits: Credits(micros: 60)))
            #expect(stats.byModel["m1"] == UsageTotals(requests: 2, errors: 0, promptTokens: 20, completionTokens: 10, credits: Credits(micros: 40)))
            #expect(stats.byKey[key]?.requests == 3 && stats.byKey[otherKey] == nil)
            #expect(stats.byDay.keys.sorted() == ["2023-11-14", "2023-11-15"] && stats.byDay["2023-11-15"]?.credits == Credits(micros: 30))
            #expect(stats.byProvider["p"]?.requests == 3)
            #expect(try await store.usageStats(UsageQuery(userID: nil)).total.requests == 4)
        }
    }
}

extension Date {
    /// Whole milliseconds, as stores keep times.
    var unixMillisForTest: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
    init(unixMillisForTest millis: Int64) { self.init(timeIntervalSince1970: Double(millis) / 1000) }
}
