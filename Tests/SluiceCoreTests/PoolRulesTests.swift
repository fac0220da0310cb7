import Foundation
import Testing
@testable import SluiceCore

@Suite struct SelectionScoreTests {
    struct FixedRandom: RandomNumberGenerator {
        var state: UInt64 = 7
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state
        }
    }

    func firsts(_ candidates: [PoolCandidate], draws: Int = 2000) -> [Int64: Int] {
        var rng = FixedRandom()
        var counts: [Int64: Int] = [:]
        for i in 0..<draws { counts[AccountSelection.order(candidates, rotation: UInt64(i), using: &rng)[0].id, default: 0] += 1 }
        return counts
    }

    @Test func quotaThatResetsSoonIsSpentFirst() {
        let counts = firsts([
            PoolCandidate(id: 1, tier: .shared, priority: 0, headroom: 0.5, resetIn: 5),
            PoolCandidate(id: 2, tier: .shared, priority: 0, headroom: 0.5, resetIn: 3600),
        ])
        #expect(counts[1, default: 0] > counts[2, default: 0] * 3 / 2)
    }

    @Test func errorsAndLoadTakeShareAway() {
        let flaky = firsts([
            PoolCandidate(id: 1, tier: .shared, priority: 0, errorRate: 0.8),
            PoolCandidate(id: 2, tier: .shared, priority: 0),
        ])
        #expect(flaky[2, default: 0] > flaky[1, default: 0] * 3)
        let loaded = firsts([
            PoolCandidate(id: 1, tier: .shared, priority: 0, inFlight: 9),
            PoolCandidate(id: 2, tier: .shared, priority: 0, inFlight: 0),
        ])
        #expect(loaded[2, default: 0] > loaded[1, default: 0] * 5)
        #expect(loaded[1, default: 0] > 0, "a loaded account still gets a share")
    }

    @Test func theDrawIsAmongTheBestFewOnly() {
        // Five equal-priority accounts; the two worst never go first while three better ones can.
        let candidates = (1...5).map { PoolCandidate(id: Int64($0), tier: .shared, priority: 0, headroom: 1.0 - Double($0) * 0.15) }
        let counts = firsts(candidates)
        #expect(Set(counts.keys) == [1, 2, 3])
        // The whole order still lists every account once, best-scored first among the rest.
        var rng = FixedRandom()
        #expect(Set(AccountSelection.order(candidates, rotation: 0, using: &rng).map(\.id)) == [1, 2, 3, 4, 5])
    }
}

@Suite struct StickyBindingTests {
    let key = StickyBindings.Key(userID: 1, session: 42, model: "m")
    let now = Date(timeIntervalSince1970: 1_000_000)

    @Test func aBindingMovesOnlyWhenItsAccountIsAway() {
        var bindings = StickyBindings(ttl: 600)
        bindings.served(key, by: 1, now: now, boundIsAway: true)
        #expect(bindings.account(for: key, now: now) == 1)
        // Another account served while the bound one was briefly away: the binding stays.
        bindings.served(key, by: 2, now: now, boundIsAway: false)
        #expect(bindings.account(for: key, now: now) == 1)
        bindings.served(key, by: 2, now: now, boundIsAway: true)
        #expect(bindings.account(for: key, now: now) == 2)
        // Other users, sessions and models have bindings of their own.
        #expect(bindings.account(for: .init(userID: 2, session: 42, model: "m"), now: now) == nil)
        #expect(bindings.account(for: .init(userID: 1, session: 42, model: "n"), now: now) == nil)
    }

    @Test func unusedBindingsExpireAndForgottenAccountsLoseThem() {
        var bindings = StickyBindings(ttl: 60)
        bindings.served(key, by: 1, now: now, boundIsAway: true)
        #expect(bindings.account(for: key, now: now.addingTimeInterval(59)) == 1)
        #expect(bindings.account(for: key, now: now.addingTimeInterval(61)) == nil)
        bindings.served(key, by: 1, now: now, boundIsAway: true)
        bindings.forget(accountID: 1)
        #expect(bindings.account(for: key, now: now) == nil)
    }

    @Test func theTableIsBounded() {
        var bindings = StickyBindings(ttl: 100, capacity: 10)
        for i in 0..<10 { bindings.served(.init(userID: 1, session: UInt64(i), model: "m"), by: 1, now: now, boundIsAway: true) }
        bindings.served(.init(userID: 1, session: 99, model: "m"), by: 1, now: now.addingTimeInterval(80), boundIsAway: true)
        #expect(bindings.count == 1)
    }
}

@Suite struct RecoveringBudgetTests {
    @Test func spendingWaitsForRecoveryAndRefillsToCapacity() {
        var budget = RecoveringBudget(capacity: 1000, perHour: 3600, now: 0)
        #expect(budget.allowsSpending())
        budget.spend(1500, at: 0)
        #expect(!budget.allowsSpending())
        // 500 under water at one unit per second: usable again after 501 s, full after 1,500 s.
        #expect(budget.secondsUntilUsable() == 501)
        #expect(budget.secondsUntilFull() == 1500)
        budget.recover(to: 501)
        #expect(budget.allowsSpending())
        budget.recover(to: 10_000)
        #expect(budget.level == 1000)
    }

    @Test func allowancesAreKeptPerUserAndGroupAndTermsApplyAtOnce() {
        let allowances = LocalPoolAllowances()
        let terms = AllowanceTerms(capacity: 100, perHour: 0, unit: .tokens)
        allowances.spend(userID: 1, group: "openai", terms: terms, units: 100, now: 0)
        #expect(!allowances.budget(userID: 1, group: "openai", terms: terms, now: 1).allowsSpending())
        #expect(allowances.budget(userID: 1, group: "deepseek", terms: terms, now: 1).allowsSpending())
        #expect(allowances.budget(userID: 2, group: "openai", terms: terms, now: 1).allowsSpending())
        // A bigger plan raises the capacity, not the spent part.
        let bigger = terms.raised(byPercent: 50)
        #expect(bigger.capacity == 150)
        #expect(allowances.budget(userID: 1, group: "openai", terms: bigger, now: 1).level == 0)
        #expect(AllowanceTerms(capacity: 1, perHour: 1, unit: .requests).units(promptTokens: 500, completionTokens: 9) == 1)
    }
}

@Suite struct CapacityWaitersTests {
    typealias Waiters = CapacityWaiters<String>

    @Test func aFreedSlotWakesTheFirstWaiterForThatAccount() {
        var waiters = Waiters()
        let a = waiters.makeID(), b = waiters.makeID(), c = waiters.makeID()
        for (id, accounts, name) in [(a, Set<Int64>([1]), "a"), (b, [2], "b"), (c, [1, 2], "c")] {
            guard case .wait = waiters.enqueue(.init(id: id, accounts: accounts, slotsFreedBefore: 0, continuation: name), limit: 10) else {
                Issue.record("\(name) was refused")
                return
            }
        }
        #expect(waiters.slotFreed(on: 2) == "b")
        #expect(waiters.slotFreed(on: 2) == "c")
        #expect(waiters.slotFreed(on: 2) == nil)
        #expect(waiters.slotFreed(on: 1) == "a")
        #expect(waiters.count == 0)
    }

    @Test func theQueueIsBoundedAndACancelledWaitIsNeverWoken() {
        var waiters = Waiters()
        let first = waiters.makeID(), second = waiters.makeID()
        guard case .wait = waiters.enqueue(.init(id: first, accounts: [1], slotsFreedBefore: 0, continuation: "first"), limit: 1) else {
            Issue.record("the first waiter was refused")
            return
        }
        guard case .refuse("second") = waiters.enqueue(.init(id: second, accounts: [1], slotsFreedBefore: 0, continuation: "second"), limit: 1) else {
            Issue.record("a full queue took another waiter")
            return
        }
        #expect(waiters.cancel(first) == "first")
        #expect(waiters.slotFreed(on: 1) == nil)
        // Cancelled before it was queued (the handler ran first): refused when it arrives.
        let late = waiters.makeID()
        #expect(waiters.cancel(late) == nil)
        guard case .refuse("late") = waiters.enqueue(.init(id: late, accounts: [1], slotsFreedBefore: 0, continuation: "late"), limit: 5) else {
            Issue.record("a cancelled waiter was queued")
            return
        }
        #expect(waiters.count == 0)
    }

    @Test func aSlotFreedBetweenTheLookAndTheQueueSendsTheRequestBackToLook() {
        var waiters = Waiters()
        let seen = waiters.slotsFreed
        // The request saw accounts 1 and 2 busy; before it queues, account 2 frees a slot, with
        // no one yet waiting for it.
        #expect(waiters.slotFreed(on: 2) == nil)
        guard case .lookAgain("late") = waiters.enqueue(.init(id: waiters.makeID(), accounts: [1, 2], slotsFreedBefore: seen, continuation: "late"), limit: 5) else {
            Issue.record("a request that missed a freed slot was queued to wait")
            return
        }
        // A request that looked after that release waits; so does one whose accounts freed nothing.
        let after = waiters.slotsFreed
        guard case .wait = waiters.enqueue(.init(id: waiters.makeID(), accounts: [2], slotsFreedBefore: after, continuation: "after"), limit: 5),
            case .wait = waiters.enqueue(.init(id: waiters.makeID(), accounts: [1], slotsFreedBefore: seen, continuation: "other"), limit: 5)
        else {
            Issue.record("a request with no missed slot did not wait")
            return
        }
        #expect(waiters.count == 2)
    }
}

@Suite struct SingleFlightsTests {
    @Test func theFirstCallerLeadsAndTheOthersWaitForItsResult() {
        var flights = SingleFlights<Int64, String>()
        let first = flights.lead(1), second = flights.lead(1)
        #expect(first && !second)
        let queuedB = flights.wait(1, "b"), queuedC = flights.wait(1, "c")
        #expect(queuedB == nil && queuedC == nil)
        // Another key is a flight of its own.
        let otherKey = flights.lead(2)
        #expect(otherKey)
        let woken = flights.finish(1)
        #expect(woken == ["b", "c"])
        #expect(!flights.isRunning(1) && flights.isRunning(2))
        // Work that ends between `lead` and `wait` hands the waiter back instead of losing it.
        let late = flights.wait(1, "late")
        #expect(late == "late")
        let again = flights.lead(1)
        #expect(again)
        let none = flights.finish(1)
        #expect(none.isEmpty)
    }
}
