import Foundation
import SluiceCore
import SluiceStore
import Testing
@testable import SluiceServer

/// Selection on a test clock: tiers, sticky conversations through cooldowns, and busy accounts.
@Suite struct AccountSelectorTests {
    func conversation(_ session: UInt64, user: Int64 = 1) -> AccountPool.Requester { .init(userID: user, session: session) }

    /// What the pool does for one request: pick in order, fail or succeed, never the same twice.
    func serve(_ f: PoolFixture, _ requester: AccountPool.Requester, failing: Set<Int64> = [], resetIn: TimeInterval? = nil) async -> [Int64] {
        var tried: Set<Int64> = []
        var order: [Int64] = []
        while case .account(let lease) = f.pool.next(model: "m", for: requester, excluding: tried) {
            let id = lease.account.record.id
            tried.insert(id)
            order.append(id)
            lease.release()
            guard failing.contains(id) else {
                await f.pool.recordSuccess(id, model: "m", for: requester)
                break
            }
            await f.pool.recordFailure(
                id, FailureAssessment(.rateLimited, .model("m")), resetAt: resetIn.map { f.clock.now().addingTimeInterval($0) })
        }
        return order
    }

    @Test func aConversationStaysThroughABlipAndMovesAfterTheGrace() async throws {
        var settings = AccountPool.Settings()
        settings.stickyGrace = 1
        try await PoolFixture.with(settings: settings) { f in
            let high = try await f.account("high", priority: 10)
            let low = try await f.account("low")
            #expect(await serve(f, conversation(1)) == [high])
            // A blip within the grace: the request fails over, the binding stays.
            #expect(await serve(f, conversation(1), failing: [high], resetIn: 0.5) == [high, low])
            f.clock.advance(by: 0.8)  // past the cooldown and its jitter
            #expect(await serve(f, conversation(1)) == [high], "the failover must not rewrite the binding")

            // A cooldown past the grace moves a new conversation to "low" …
            #expect(await serve(f, conversation(2), failing: [high], resetIn: 2) == [high, low])
            f.clock.advance(by: 2.3)
            // … and it stays there after "high" is back, while a new conversation goes to "high".
            #expect(await serve(f, conversation(2)) == [low])
            #expect(await serve(f, conversation(3)) == [high])
        }
    }

    @Test func aBindingExpiresAfterItsTTL() async throws {
        var settings = AccountPool.Settings()
        settings.stickyTTL = 60
        try await PoolFixture.with(settings: settings) { f in
            let high = try await f.account("high", priority: 10)
            let low = try await f.account("low")
            #expect(await serve(f, conversation(1), failing: [high], resetIn: 3600) == [high, low])
            await f.pool.reset(high)
            #expect(await serve(f, conversation(1)) == [low])
            f.clock.advance(by: 61)
            #expect(await serve(f, conversation(1)) == [high])
        }
    }

    @Test func dedicatedAccountsComeFirstAndPrivateOnesServeOnlyTheirOwner() async throws {
        try await PoolFixture.with { f in
            let (owner, other) = (try await f.user(), try await f.user())
            let shared = try await f.account("shared", priority: 100)
            let mine = try await f.account("mine", owner: owner)
            #expect(f.pick(for: .init(userID: owner)) == mine)
            #expect(f.pick(for: .init(userID: owner, preference: .sharedFirst)) == shared)
            #expect(f.pick(for: .init(userID: other)) == shared)
            #expect(f.pick(for: .init(userID: other), excluding: [shared]) == nil)
            #expect(f.pick(for: .init(userID: owner, preference: .dedicatedOnly), excluding: [mine]) == nil)
        }
    }

    @Test func aClosedAllowanceGroupClosesOnlyItsSharedAccounts() async throws {
        try await PoolFixture.with { f in
            let (owner, stranger) = (try await f.user(), try await f.user())
            let p = try await f.account("p-shared")
            let q = try await f.account("q-shared", provider: "q")
            let own = try await f.account("own", provider: "q", owner: owner)
            let closedQ = AccountPool.Requester(userID: owner, preference: .sharedFirst, closedSharedGroups: ["q": 30])
            #expect(f.pick(for: closedQ, excluding: [p]) == own, "a closed group leaves the user's own account")
            let spent = AccountPool.Requester(userID: stranger, closedSharedGroups: ["q": 30])
            #expect(f.pick(for: spent) == p)
            #expect(f.pick(for: spent, excluding: [p]) == nil)
            #expect(f.pick(for: .init(userID: stranger), excluding: [p]) == q)
        }
    }

    @Test func aSurplusAccountServesOthersOnlyAboveItsOwnersReserve() async throws {
        try await PoolFixture.with { f in
            let (owner, other) = (try await f.user(), try await f.user())
            let surplus = try await f.account("s", owner: owner, sharing: AccountSharing(shareMode: .surplus, reservePercent: 50))
            #expect(f.pick(for: .init(userID: other)) == surplus)
            f.pool.recordHeadroom(surplus, headers: ["x-ratelimit-remaining-requests": "40", "x-ratelimit-limit-requests": "100"])
            #expect(f.pick(for: .init(userID: other)) == nil)
            #expect(f.pick(for: .init(userID: owner)) == surplus)
        }
    }

    @Test func aBusyAccountIsOfferedToTheQueueAndItsReleasedSlotWakesAWaiter() async throws {
        try await PoolFixture.with { f in
            let solo = try await f.account("solo", sharing: AccountSharing(maxConcurrency: 1))
            guard case .account(let held) = f.pool.next(model: "m", for: .init(userID: 1), excluding: []) else {
                Issue.record("expected the account")
                return
            }
            guard case .busy(let busy) = f.pool.next(model: "m", for: .init(userID: 1), excluding: []) else {
                Issue.record("expected busy")
                return
            }
            #expect(busy.ids == [solo])
            // The waiter is woken by the release, well before its (test-bounding) timeout.
            async let woken = f.pool.waitForCapacity(on: busy, timeout: .seconds(30))
            while f.pool.capacity.waiting == 0 { await Task.yield() }
            held.release()
            #expect(await woken)
            #expect(f.pick() == solo)
        }
    }

    @Test func aSlotFreedAfterTheRequestSawItBusyIsNotLostBeforeItQueues() async throws {
        try await PoolFixture.with { f in
            try await f.account("solo", sharing: AccountSharing(maxConcurrency: 1))
            guard case .account(let held) = f.pool.next(model: "m", for: .init(userID: 1), excluding: []),
                case .busy(let busy) = f.pool.next(model: "m", for: .init(userID: 1), excluding: [])
            else {
                Issue.record("expected the account, then busy")
                return
            }
            // Released before the request queues: nobody waits yet, and the wait still ends at
            // once (the timeout bounds only a lost slot).
            held.release()
            #expect(await f.pool.waitForCapacity(on: busy, timeout: .seconds(30)))
        }
    }

    @Test func theQueueIsBounded() async throws {
        var settings = AccountPool.Settings()
        settings.maxQueued = 0
        try await PoolFixture.with(settings: settings) { f in
            #expect(await f.pool.waitForCapacity(on: BusyAccounts([1], slotsFreedBefore: 0), timeout: .seconds(30)) == false)
        }
    }
}
