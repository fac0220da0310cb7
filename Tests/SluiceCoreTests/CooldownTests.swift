import Foundation
import Testing
@testable import SluiceCore

@Suite struct CooldownTests {
    let policy = CooldownPolicy()
    let now = Date(timeIntervalSince1970: 1_000_000)

    @Test func backoffDoublesUpToTheCapOfEachClass() {
        #expect((0..<5).map { policy.backoff(level: $0, for: .transient) } == [1, 2, 4, 8, 16])
        #expect(policy.backoff(level: 20, for: .transient) == 60)
        #expect(policy.backoff(level: 20, for: .rateLimited) == 8)
        #expect(policy.backoff(level: 20, for: .quotaExhausted) == 1800)
    }

    @Test func failuresWhileCoolingDoNotEscalateAgain() {
        var state = CooldownState()
        state.recordFailure(.transient, resetAt: nil, now: now, policy: policy)
        for _ in 0..<10 { state.recordFailure(.transient, resetAt: nil, now: now.addingTimeInterval(0.5), policy: policy) }
        #expect(state.level == 1)
        #expect(state.coolingUntil == now.addingTimeInterval(1))
        // Once the cooldown has passed, the next failure escalates.
        state.recordFailure(.transient, resetAt: nil, now: now.addingTimeInterval(2), policy: policy)
        #expect(state.level == 2)
        #expect(state.coolingUntil == now.addingTimeInterval(4))
    }

    @Test func providerResetIsAuthoritative() {
        var state = CooldownState()
        state.recordFailure(.rateLimited, resetAt: now.addingTimeInterval(120), now: now, policy: policy)
        #expect(state.coolingUntil == now.addingTimeInterval(120))
        #expect(state.isCooling(at: now.addingTimeInterval(119)))
        #expect(!state.isCooling(at: now.addingTimeInterval(121)))
    }

    @Test func retryAfterSecondsAndHTTPDate() {
        #expect(RetryAfter.parse("30", now: now) == now.addingTimeInterval(30))
        #expect(RetryAfter.parse("Wed, 21 Oct 2015 07:28:00 GMT", now: now) == Date(timeIntervalSince1970: 1_445_412_480))
        #expect(RetryAfter.parse("soon", now: now) == nil)
        #expect(RetryAfter.parse("-5", now: now) == nil)
    }
}

@Suite struct AccountSelectionTests {
    struct FixedRandom: RandomNumberGenerator {
        var state: UInt64 = 42
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state
        }
    }

    @Test func dedicatedBeforeSharedThenHigherPriority() {
        let candidates = [
            PoolCandidate(id: 1, tier: .shared, priority: 10),
            PoolCandidate(id: 2, tier: .dedicated, priority: 0),
            PoolCandidate(id: 3, tier: .shared, priority: 20),
            PoolCandidate(id: 4, tier: .dedicated, priority: 5),
        ]
        var rng = FixedRandom()
        #expect(AccountSelection.order(candidates, rotation: 0, using: &rng).map(\.id) == [4, 2, 3, 1])
        // A user who prefers the shared pool gets the tiers the other way round, priorities unchanged.
        #expect(AccountSelection.order(candidates, preference: .sharedFirst, rotation: 0, using: &rng).map(\.id) == [3, 1, 4, 2])
    }

    @Test func equalsRotateRoundRobinWithoutHeadroom() {
        let candidates = (1...3).map { PoolCandidate(id: Int64($0), tier: .shared, priority: 0) }
        var rng = FixedRandom()
        let firsts = (0..<6).map { AccountSelection.order(candidates, rotation: UInt64($0), using: &rng).first!.id }
        #expect(firsts == [1, 2, 3, 1, 2, 3])
    }

    @Test func headroomWeightsTheDraw() {
        let candidates = [
            PoolCandidate(id: 1, tier: .shared, priority: 0, headroom: 0.9),
            PoolCandidate(id: 2, tier: .shared, priority: 0, headroom: 0.1),
        ]
        var rng = FixedRandom()
        var firstCounts: [Int64: Int] = [:]
        for i in 0..<1000 { firstCounts[AccountSelection.order(candidates, rotation: UInt64(i), using: &rng)[0].id, default: 0] += 1 }
        #expect(firstCounts[1, default: 0] > 800)
        #expect(firstCounts[2, default: 0] > 50)
    }

    @Test func priorityGroupsNeverMix() {
        let candidates = [
            PoolCandidate(id: 1, tier: .shared, priority: 1, headroom: 0.01),
            PoolCandidate(id: 2, tier: .shared, priority: 0, headroom: 1.0),
        ]
        var rng = FixedRandom()
        for i in 0..<50 { #expect(AccountSelection.order(candidates, rotation: UInt64(i), using: &rng).map(\.id) == [1, 2]) }
    }
}
