import Foundation
import Logging
import SluiceCore
import SluiceTestSupport
import Testing
@testable import SluiceRedis

@Suite(.enabled(if: TestRedis.url != nil)) struct RedisPoolAllowancesTests {
    let redis: RedisClient
    let prefix = "test:allowance:\(UUID().uuidString)"

    init() throws {
        redis = try TestRedis.client(connections: 4)
    }

    func instance() -> RedisPoolAllowances { RedisPoolAllowances(redis: redis, prefix: prefix, logger: Logger(label: "test")) }

    @Test func aSpendOnOneInstanceClosesThePoolOnTheOther() async throws {
        let a = instance()
        let b = instance()
        let terms = AllowanceTerms(capacity: 100, perHour: 3600, unit: .tokens)
        let now = Date().timeIntervalSince1970
        let fresh = try await b.budget(userID: 1, group: "openai", terms: terms, now: now)
        #expect(fresh.level == 100)
        await a.spend(userID: 1, group: "openai", terms: terms, units: 130, now: now)
        await a.flushSpends()
        let closed = try await b.budget(userID: 1, group: "openai", terms: terms, now: now + 10)
        #expect(!closed.allowsSpending())
        #expect(closed.level == -20)  // 130 spent from 100 is -30, and 10 seconds recover 10.
        // Another group and another user are untouched.
        let otherGroup = try await b.budget(userID: 1, group: "deepseek", terms: terms, now: now)
        let otherUser = try await b.budget(userID: 2, group: "openai", terms: terms, now: now)
        #expect(otherGroup.level == 100 && otherUser.level == 100)
        // 3600 an hour is one a second: from -30, usable again 31 seconds after the spend.
        let reopened = try await a.budget(userID: 1, group: "openai", terms: terms, now: now + 31)
        #expect(reopened.allowsSpending())
    }

    /// The script is `LocalPoolAllowances` in Lua: over spends at uneven times, each sent before
    /// the next, with the plan's terms changing underneath, every budget it reports equals the
    /// in-process one exactly.
    @Test func budgetsMatchTheInProcessAllowancesExactly() async throws {
        let shared = instance()
        let local = LocalPoolAllowances()
        var generator = SplitMix(seed: 7)
        var now = Date().timeIntervalSince1970
        var terms = AllowanceTerms(capacity: 500, perHour: 1800, unit: .tokens)
        var closedSeen = false
        for step in 0..<300 {
            now += Double(generator.next() % 3000) / 1000
            if step % 50 == 49 { terms = AllowanceTerms(capacity: 200 + Int(generator.next() % 600), perHour: Int(generator.next() % 4000), unit: .tokens) }
            let units = Int(generator.next() % 120)
            await shared.spend(userID: 3, group: "openai", terms: terms, units: units, now: now)
            await shared.flushSpends()
            local.spend(userID: 3, group: "openai", terms: terms, units: units, now: now)
            let probe = now + Double(generator.next() % 1000) / 1000
            let expected = local.budget(userID: 3, group: "openai", terms: terms, now: probe)
            let actual = try await shared.budget(userID: 3, group: "openai", terms: terms, now: probe)
            #expect(actual == expected, "step \(step)")
            if !actual.allowsSpending() { closedSeen = true }
        }
        #expect(closedSeen)
    }

    /// An instance answers reads from the state it last exchanged with Redis, for a second of the
    /// callers' time: another instance's spend shows after that second, or at once after this
    /// instance's own exchange, whose reply carries it.
    @Test func readsWithinASecondOfTheLastExchangeAreAnsweredInProcess() async throws {
        let a = instance()
        let b = instance()
        let terms = AllowanceTerms(capacity: 100, perHour: 3600, unit: .tokens)
        let now: Double = 1_800_000_000  // whole, so that now + 0.5 and now + 1 are exact
        #expect(try await b.budget(userID: 5, group: "openai", terms: terms, now: now).level == 100)
        await a.spend(userID: 5, group: "openai", terms: terms, units: 50, now: now)
        await a.flushSpends()
        #expect(try await a.budget(userID: 5, group: "openai", terms: terms, now: now + 0.5).level == 50.5)
        // b read at `now`: half a second later it still answers from that read, without Redis.
        #expect(try await b.budget(userID: 5, group: "openai", terms: terms, now: now + 0.5).level == 100)
        // A second later it asks again and sees a's spend (and a second of recovery).
        #expect(try await b.budget(userID: 5, group: "openai", terms: terms, now: now + 1).level == 51)
        // a's mirror is from its spend at `now`; b's spend at `now + 1.2` brings b's own up to date.
        await a.spend(userID: 5, group: "openai", terms: terms, units: 20, now: now + 1.1)
        await a.flushSpends()
        await b.spend(userID: 5, group: "openai", terms: terms, units: 10, now: now + 1.2)
        await b.flushSpends()
        let afterBoth = try await b.budget(userID: 5, group: "openai", terms: terms, now: now + 1.2)
        #expect(abs(afterBoth.level - (50 + 1.2 - 20 - 10)) < 1e-6)  // 1.2 s after a whole second is inexact
        // Unknown to Redis is full under whatever terms come next, such as a raised plan.
        #expect(try await b.budget(userID: 6, group: "openai", terms: terms, now: now).level == 100)
        let raised = AllowanceTerms(capacity: 250, perHour: 3600, unit: .tokens)
        #expect(try await b.budget(userID: 6, group: "openai", terms: raised, now: now + 0.1).level == 250)
    }

    /// A spend counts on its own instance at once, and reaches Redis, with any others of the same
    /// user and group, when the settlement writer flushes its batch.
    @Test func spendsCountHereAtOnceAndReachRedisTogether() async throws {
        let a = instance()
        let b = instance()
        let terms = AllowanceTerms(capacity: 100, perHour: 3600, unit: .tokens)
        let now: Double = 1_800_000_000
        #expect(try await a.budget(userID: 7, group: "openai", terms: terms, now: now).level == 100)
        await a.spend(userID: 7, group: "openai", terms: terms, units: 10, now: now)
        await a.spend(userID: 7, group: "openai", terms: terms, units: 20, now: now)
        #expect(try await a.budget(userID: 7, group: "openai", terms: terms, now: now + 0.5).level == 70.5)
        #expect(try await b.budget(userID: 7, group: "openai", terms: terms, now: now + 0.5).level == 100, "not sent yet")
        await a.flushSpends()
        #expect(try await b.budget(userID: 7, group: "openai", terms: terms, now: now + 2).level == 72)
        // A read that goes to Redis before the flush still counts this instance's own spends.
        await a.spend(userID: 7, group: "openai", terms: terms, units: 40, now: now + 3)
        #expect(try await a.budget(userID: 7, group: "openai", terms: terms, now: now + 3).level == 73 - 40)
        await a.flushSpends()
        #expect(try await b.budget(userID: 7, group: "openai", terms: terms, now: now + 4).level == 34)
        // Nothing is sent twice.
        await a.flushSpends()
        #expect(try await b.budget(userID: 7, group: "openai", terms: terms, now: now + 5).level == 35)
    }

    /// One flush sends every user's and group's spends.
    @Test func oneFlushSendsEveryUsersSpends() async throws {
        let a = instance()
        let b = instance()
        let terms = AllowanceTerms(capacity: 100, perHour: 0, unit: .requests)
        let now: Double = 1_800_000_000
        for user in Int64(20)..<25 {
            for group in ["openai", "deepseek"] {
                await a.spend(userID: user, group: group, terms: terms, units: Int(user) + group.count, now: now)
            }
        }
        await a.flushSpends()
        for user in Int64(20)..<25 {
            for group in ["openai", "deepseek"] {
                let level = try await b.budget(userID: user, group: group, terms: terms, now: now).level
                #expect(level == Double(100 - Int(user) - group.count), "user \(user), \(group)")
            }
        }
    }

    /// Stale entries answer no read, so the mirror drops them once it holds a few thousand.
    @Test func theMirrorDropsWhatIsStale() async throws {
        let allowances = instance()
        let terms = AllowanceTerms(capacity: 10, perHour: 10, unit: .requests)
        let now = Date().timeIntervalSince1970
        try await withThrowingTaskGroup(of: Void.self) { group in
            for user in 0..<Int64(RedisPoolAllowances.pruneThreshold - 1) {
                group.addTask { _ = try await allowances.budget(userID: 1000 + user, group: "openai", terms: terms, now: now) }
            }
            try await group.waitForAll()
        }
        #expect(allowances.mirroredCount == RedisPoolAllowances.pruneThreshold - 1)
        _ = try await allowances.budget(userID: 1, group: "openai", terms: terms, now: now + 5)
        #expect(allowances.mirroredCount == 1)
    }

    @Test func anUnreachableRedisThrowsOnReadAndDropsASpend() async throws {
        let nowhere = RedisClient(
            configuration: .init(endpoint: RedisEndpoint(host: "127.0.0.1", port: 1), timeout: .milliseconds(200)), logger: Logger(label: "test"))
        let allowances = RedisPoolAllowances(redis: nowhere, prefix: prefix, logger: Logger(label: "test"))
        let terms = AllowanceTerms(capacity: 10, perHour: 10, unit: .requests)
        await allowances.spend(userID: 1, group: "openai", terms: terms, units: 1, now: 0)
        await allowances.flushSpends()
        await #expect(throws: RedisError.self) { try await allowances.budget(userID: 1, group: "openai", terms: terms, now: 0) }
    }
}
