import Foundation
import Logging
import SluiceCore
import SluiceTestSupport
import Testing
@testable import SluiceRedis

@Suite(.enabled(if: TestRedis.url != nil)) struct RedisLoginThrottleTests {
    let redis: RedisClient
    let prefix = "test:login:\(UUID().uuidString)"

    init() throws {
        redis = try TestRedis.client(connections: 4)
    }

    func instance(attempts: Int = 5, failures: Int = 3) -> RedisLoginThrottle {
        RedisLoginThrottle(
            redis: redis, prefix: prefix, attemptsPerAddressPerMinute: attempts, failuresPerAccountPer15Minutes: failures,
            logger: Logger(label: "test"))
    }

    @Test func guessesSpreadOverTwoInstancesMeetOneLimit() async throws {
        let a = instance()
        let b = instance()
        let now = Date().timeIntervalSince1970
        for i in 0..<3 { await (i.isMultiple(of: 2) ? a : b).recordFailure(account: "Ann@example.com", now: now) }
        // Three failures on either instance lock the account on both, whatever the address.
        let refused = try await b.admit(address: "203.0.113.9", account: "ann@example.com", now: now + 1)
        #expect(refused != nil)
        #expect((refused ?? 0) > 60)
        // Five attempts from one address, across both, use up the address's minute.
        var admitted = 0
        for i in 0..<8 where try await (i.isMultiple(of: 2) ? a : b).admit(address: "198.51.100.7", account: "u\(i)@example.com", now: now) == nil {
            admitted += 1
        }
        #expect(admitted == 5)
    }

    /// The same windows as `LocalLoginThrottle`: over attempts and failures at uneven times, every
    /// verdict, retry-after included, is the in-process one.
    @Test func verdictsMatchTheInProcessThrottleExactly() async throws {
        let shared = instance(attempts: 6, failures: 4)
        let local = LocalLoginThrottle(attemptsPerAddressPerMinute: 6, failuresPerAccountPer15Minutes: 4)
        var generator = SplitMix(seed: 11)
        var now = Date().timeIntervalSince1970
        var refusals = 0
        for step in 0..<300 {
            now += Double(generator.next() % 8000) / 1000
            let address = "10.0.0.\(generator.next() % 3)"
            let account = "user\(generator.next() % 2)@example.com"
            let expected = local.admit(address: address, account: account, now: now)
            let actual = try await shared.admit(address: address, account: account, now: now)
            #expect(actual == expected, "step \(step)")
            if actual != nil { refusals += 1 }
            if generator.next() % 3 == 0 {
                local.recordFailure(account: account, now: now)
                await shared.recordFailure(account: account, now: now)
            }
        }
        #expect(refusals > 10)
    }
}
