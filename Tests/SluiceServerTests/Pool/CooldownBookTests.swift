import Foundation
import SluiceCore
import SluiceStore
import Synchronization
import Testing
@testable import SluiceServer

/// Cooldowns on a test clock: scopes, backoff, persistence and verification, with no upstream.
@Suite struct CooldownBookTests {
    let transient = FailureAssessment(.transient, .model("m"))

    @Test func aBurstOfConcurrentFailuresEscalatesOnceAndWritesOnce() async throws {
        try await PoolFixture.with { f in
            let id = try await f.account("a")
            let now = f.clock.now()
            await withTaskGroup(of: Void.self) { group in
                for _ in 0..<50 { group.addTask { await f.pool.recordFailure(id, transient, resetAt: nil) } }
            }
            let cooldown = try #require(f.pool.cooldowns.cooldown(id, scope: .model("m")))
            #expect(cooldown.level == 1 && cooldown.coolingUntil == now.addingTimeInterval(1))
            #expect(try await f.store.liveCooldowns(now: now).map(\.state.level) == [1])
            #expect(f.pool.liveState(id).runtime.cooldownsEntered == 1)
        }
    }

    @Test func aModelCooldownLeavesTheAccountsOtherModelsInRotation() async throws {
        try await PoolFixture.with { f in
            let id = try await f.account("a")
            await f.pool.recordFailure(id, FailureAssessment(.rateLimited, .model("m")), resetAt: f.clock.now().addingTimeInterval(30))
            #expect(f.pick("m") == nil && f.pick("n") == id)
            guard case .cooling(let until) = f.pool.next(model: "m", for: .init(userID: 1), excluding: []) else {
                Issue.record("expected cooling")
                return
            }
            #expect(until.timeIntervalSince(f.clock.now()) >= 30)
            // The cooldown ends on the clock, not on a sleep.
            f.clock.advance(by: 31)
            #expect(f.pick("m") == id)
        }
    }

    @Test func repeatedFailuresBackOffAndASuccessResetsTheModelScope() async throws {
        try await PoolFixture.with { f in
            let id = try await f.account("a")
            var ends: [TimeInterval] = []
            for _ in 0..<3 {
                await f.pool.recordFailure(id, transient, resetAt: nil)
                let cooldown = try #require(f.pool.cooldown(id, scope: .model("m")))
                ends.append(try #require(cooldown.coolingUntil).timeIntervalSince(f.clock.now()))
                f.clock.advance(by: ends.last! + 0.1)
            }
            #expect(ends[0] < ends[1] && ends[1] < ends[2], "\(ends)")
            await f.pool.recordSuccess(id, model: "m")
            #expect(f.pool.cooldown(id, scope: .model("m")) == nil)
            #expect(try await f.store.liveCooldowns(now: f.clock.now()).isEmpty)
        }
    }

    @Test func anAccountCooldownOutlivesASuccessOnAnotherModelUntilItEnds() async throws {
        try await PoolFixture.with { f in
            let id = try await f.account("a")
            await f.pool.recordFailure(id, FailureAssessment(.quotaExhausted, .account), resetAt: f.clock.now().addingTimeInterval(60))
            await f.pool.recordSuccess(id, model: "n")
            #expect(f.pool.cooldown(id, scope: .account) != nil)
            f.clock.advance(by: 61)
            await f.pool.recordSuccess(id, model: "n")
            #expect(f.pool.cooldown(id, scope: .account) == nil)
        }
    }

    @Test func aLongCooldownIsProbedEarlyAndEndsWhenTheProbePasses() async throws {
        try await PoolFixture.with { f in
            let id = try await f.account("a")
            let probes = ProbeScript([.stillFailing, .ok])
            f.pool.useProber { _, _ in probes.next() }
            await f.pool.recordFailure(id, FailureAssessment(.rateLimited, .model("m")), resetAt: f.clock.now().addingTimeInterval(7200))
            let verifyAt = try #require(f.pool.cooldown(id, scope: .model("m"))?.verifyAt)
            await f.pool.verifyDue(now: verifyAt.addingTimeInterval(-1))
            #expect(probes.count == 0, "not due yet")
            await f.pool.verifyDue(now: verifyAt)
            let later = try #require(f.pool.cooldown(id, scope: .model("m"))?.verifyAt)
            #expect(probes.count == 1 && later > verifyAt)
            await f.pool.verifyDue(now: later)
            #expect(probes.count == 2 && f.pool.cooldown(id, scope: .model("m")) == nil)
        }
    }

    @Test func aRejectedCredentialFoundByAProbeNeedsReauth() async throws {
        try await PoolFixture.with { f in
            let id = try await f.account("a")
            f.pool.useProber { _, _ in .rejectedCredential }
            await f.pool.recordFailure(id, FailureAssessment(.unauthorized, .account), resetAt: nil)
            let verifyAt = try #require(f.pool.cooldown(id, scope: .account)?.verifyAt)
            await f.pool.verifyDue(now: verifyAt)
            #expect(f.pool.needsReauth(id))
            #expect(try await f.store.account(id: id)?.needsReauth == true)
        }
    }

    @Test func aCooldownFromAnotherInstanceIsObeyed() async throws {
        try await PoolFixture.with { f in
            let id = try await f.account("a")
            var state = CooldownState()
            state.recordFailure(.rateLimited, resetAt: f.clock.now().addingTimeInterval(60), now: f.clock.now(), policy: CooldownPolicy())
            f.pool.apply(.cooldown(accountID: id, scope: .account, state: state))
            #expect(f.pick() == nil)
            f.pool.apply(.cooldown(accountID: id, scope: .account, state: nil))
            #expect(f.pick() == id)
        }
    }
}

/// Probe results in order, counting the probes sent.
final class ProbeScript: Sendable {
    private let state: Mutex<(results: [AccountPool.ProbeResult], count: Int)>
    init(_ results: [AccountPool.ProbeResult]) { state = Mutex((results, 0)) }
    var count: Int { state.withLock { $0.count } }
    func next() -> AccountPool.ProbeResult {
        state.withLock { state in
            state.count += 1
            return state.results.isEmpty ? .stillFailing : state.results.removeFirst()
        }
    }
}
