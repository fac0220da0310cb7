import Foundation
import SluiceCore
import SluiceStore
import Testing
@testable import SluiceServer

/// The registry without an upstream: what a reload reads and what it answers about models.
@Suite struct AccountRegistryTests {
    @Test func aReloadNarrowsModelsAndSkipsWhatItCannotOpen() async throws {
        try await PoolFixture.with { f in
            let narrowed = try await f.account("a", models: ["n", "not-offered"])
            let unknown = try await f.account("b", provider: "gone")
            // An OAuth account whose secret is not a token set is not its kind's: skipped.
            let broken = try await f.account("not json", kind: .oauth)
            let snapshot = f.pool.registry.snapshot()
            #expect(snapshot.accounts[narrowed]?.models == ["n"])
            #expect(snapshot.accounts[unknown] == nil && snapshot.accounts[broken] == nil)
            #expect(snapshot.accounts[narrowed]?.credential == .apiKey("a"))
        }
    }

    @Test func theHoldUsesTheDearestPriceAndModelsListTheirFirstProvider() async throws {
        try await PoolFixture.with { f in
            try await f.account("a")
            try await f.account("b", provider: "q")
            #expect(f.pool.registry.modelLimits("m")?.price.outputMicroUSDPerMillion == 9)
            #expect(f.pool.registry.modelLimits("absent") == nil)
            #expect(f.pool.registry.servedModels().map(\.model) == ["m", "n"])
            #expect(f.pool.registry.servedModels().first?.provider == "p")
        }
    }

    @Test func allowanceGroupsAreThoseOfSharedTierAccounts() async throws {
        try await PoolFixture.with { f in
            let (keeper, sharer) = (try await f.user(), try await f.user())
            try await f.account("private", provider: "p", owner: keeper)
            try await f.account("shared", provider: "q")
            try await f.account("surplus", provider: "p", owner: sharer, models: ["n"], sharing: AccountSharing(shareMode: .surplus))
            #expect(f.pool.registry.sharedGroups(serving: "m") == ["q"])
            #expect(f.pool.registry.sharedGroups(serving: "n") == ["p"])
            #expect(f.pool.registry.sharedGroups() == ["q": ["m"], "p": ["n"]])
            #expect(f.pool.registry.isContributor(sharer) && !f.pool.registry.isContributor(keeper))
        }
    }

    @Test func needsReauthIsReadFromTheStoreAndClearedByANewSecret() async throws {
        try await PoolFixture.with { f in
            let id = try await f.account("a")
            try await f.store.markNeedsReauth(accountID: id)
            try await f.pool.reload()
            #expect(f.pool.registry.needsReauth(id) && f.pick() == nil)
            try await f.store.updateAccountSecret(id: id, try f.secrets.seal("fresh"))
            try await f.pool.reload()
            #expect(!f.pool.registry.needsReauth(id) && f.pick() == id)
        }
    }
}
