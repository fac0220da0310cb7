import Foundation
import SluiceCore
import Testing
@testable import SluiceServer

/// The failover rules without an upstream or a clock: what the dispatcher does with each pick.
@Suite struct FailoverPlanTests {
    let start = ContinuousClock.now
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func plan(closed: [String: Int] = [:], team: Bool = false) -> FailoverPlan {
        FailoverPlan(
            model: "m", maxAttempts: 3, queueDeadline: start + .milliseconds(500), cooldownWaitLimit: .milliseconds(1500),
            closedSharedGroups: closed, hasTeamTier: team)
    }

    func error(_ step: FailoverPlan.Step) -> GatewayError? {
        if case .fail(let error) = step { return error }
        return nil
    }

    @Test func aCooldownThatEndsSoonIsWaitedOutOnceBeforeAnyAttempt() {
        var plan = plan()
        guard case .waitForCooldown(let wait) = plan.step(for: .cooling(until: now.addingTimeInterval(1.25)), clockNow: start, now: now) else {
            Issue.record("expected a wait")
            return
        }
        #expect(wait == .milliseconds(1250))
        // The pool still says cooling after the wait (another request took the account): refuse.
        let second = plan.step(for: .cooling(until: now.addingTimeInterval(1.25)), clockNow: start, now: now)
        #expect(error(second) == .allAccountsCooling(retryAfterSeconds: 2))
    }

    @Test func aLongCooldownIsRefusedWithItsRetryAfter() {
        var plan = plan()
        #expect(error(plan.step(for: .cooling(until: now.addingTimeInterval(30.5)), clockNow: start, now: now))
            == .allAccountsCooling(retryAfterSeconds: 31))
    }

    @Test func afterAFailedAttemptCoolingIsAnUpstreamFailureUnlessItWasARateLimit() {
        var failed = plan()
        failed.attempting(1, of: .dedicated, for: "m")
        failed.attemptFailed(.transient)
        #expect(error(failed.step(for: .cooling(until: now.addingTimeInterval(0.5)), clockNow: start, now: now))?.code == "upstream_error")
        var limited = plan()
        limited.attempting(1, of: .dedicated, for: "m")
        limited.attemptFailed(.rateLimited)
        #expect(error(limited.step(for: .cooling(until: now.addingTimeInterval(0.5)), clockNow: start, now: now))
            == .allAccountsCooling(retryAfterSeconds: 1))
    }

    @Test func busyAccountsAreWaitedForUntilTheQueueDeadline() {
        var plan = plan()
        let busy = BusyAccounts([4], slotsFreedBefore: 0)
        guard case .waitForSlot(let accounts, let wait) = plan.step(for: .busy(busy), clockNow: start + .milliseconds(200), now: now) else {
            Issue.record("expected a wait for a slot")
            return
        }
        #expect(accounts == busy && wait == .milliseconds(300))
        #expect(error(plan.step(for: .busy(busy), clockNow: start + .milliseconds(500), now: now)) == .accountsBusy(retryAfterSeconds: 1))
    }

    @Test func noAccountNamesTheClosedAllowanceFirst() {
        var open = plan()
        #expect(error(open.step(for: .none, clockNow: start, now: now)) == .noAccount(model: "m"))
        var closed = plan(closed: ["a": 40, "b": 7])
        #expect(error(closed.step(for: .none, clockNow: start, now: now)) == .poolAllowanceExhausted(retryAfterSeconds: 7))
        closed.attempting(1, of: .dedicated, for: "m")
        #expect(error(closed.step(for: .none, clockNow: start, now: now)) == FailoverPlan.everyAccountFailed)
    }

    @Test func eachTierHasMaxAttemptsSoAFailingTierNeverStarvesTheNext() {
        var plan = plan()
        for id in 1...3 {
            #expect(plan.mayAttemptAgain && plan.spentTiers.isEmpty)
            plan.attempting(Int64(id), of: .dedicated, for: "m")
        }
        // The own accounts have had their three: only the shared pool is offered now.
        #expect(plan.mayAttemptAgain && plan.spentTiers == [.dedicated])
        for id in 4...6 { plan.attempting(Int64(id), of: .shared, for: "m") }
        #expect(!plan.mayAttemptAgain && plan.spentTiers == [.dedicated, .shared] && plan.tried(for: "m") == [1, 2, 3, 4, 5, 6])
    }

    /// A team key's team accounts are a tier with three attempts of their own, between the
    /// member's accounts and the shared pool; a request without a team never waits on that tier.
    @Test func aTeamKeysTeamTierHasItsOwnAttempts() {
        var plan = plan(team: true)
        for id in 1...3 { plan.attempting(Int64(id), of: .dedicated, for: "m") }
        for id in 4...6 { plan.attempting(Int64(id), of: .team, for: "m") }
        #expect(plan.mayAttemptAgain && plan.spentTiers == [.dedicated, .team])
        for id in 7...9 { plan.attempting(Int64(id), of: .shared, for: "m") }
        #expect(!plan.mayAttemptAgain && plan.attempts == 9)

        var personal = self.plan()
        for id in 1...6 { personal.attempting(Int64(id), of: id <= 3 ? .dedicated : .shared, for: "m") }
        #expect(!personal.mayAttemptAgain && !personal.spentTiers.contains(.team))
    }
}
