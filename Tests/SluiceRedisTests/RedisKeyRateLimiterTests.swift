import Foundation
import Logging
import SluiceCore
import SluiceTestSupport
import Testing
@testable import SluiceRedis

@Suite(.enabled(if: TestRedis.url != nil)) struct RedisKeyRateLimiterTests {
    let redis: RedisClient
    let prefix = "test:rate:\(UUID().uuidString)"

    init() throws {
        redis = try TestRedis.client(connections: 8)
    }

    func instance() -> RedisKeyRateLimiter { RedisKeyRateLimiter(redis: redis, prefix: prefix, logger: Logger(label: "test")) }

    @Test func twoInstancesTogetherAdmitExactlyTheLimit() async throws {
        let a = instance()
        let b = instance()
        let now = Date().timeIntervalSince1970
        let admitted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<30 {
                let limiter = i.isMultiple(of: 2) ? a : b
                group.addTask { try await limiter.admit(keyID: 1, rpm: 10, tpm: nil, now: now) == .allowed }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(admitted == 10)
    }

    /// The script is `SlidingWindow` in Lua: over a minute and a half of admits and token counts at
    /// uneven times, it decides exactly as the in-process limiter does, retry-after included.
    @Test func decisionsMatchTheInProcessWindowsExactly() async throws {
        let shared = instance()
        let local = LocalKeyRateLimiter()
        var generator = SplitMix(seed: 42)
        var now = (Date().timeIntervalSince1970 / 60).rounded(.down) * 60 + 0.25
        var limitedSeen = Set<String>()
        for step in 0..<400 {
            now += Double(generator.next() % 500) / 1000
            if step % 3 == 1 {  // After the first admit: the in-process limiter tracks keys from then on.
                let tokens = Int(generator.next() % 40)
                await shared.recordTokens(keyID: 2, tokens: tokens, now: now)
                await local.recordTokens(keyID: 2, tokens: tokens, now: now)
            }
            let expected = local.admit(keyID: 2, rpm: 25, tpm: 300, now: now)
            let actual = try await shared.admit(keyID: 2, rpm: 25, tpm: 300, now: now)
            #expect(actual == expected, "step \(step) at \(now)")
            if case .limited(let limit, _) = actual { limitedSeen.insert(limit) }
        }
        #expect(limitedSeen == ["requests", "tokens"])
    }

    @Test func keysWithoutLimitsNeverTouchRedis() async throws {
        let nowhere = RedisClient(
            configuration: .init(endpoint: RedisEndpoint(host: "127.0.0.1", port: 1), timeout: .milliseconds(200)), logger: Logger(label: "test"))
        let limiter = RedisKeyRateLimiter(redis: nowhere, logger: Logger(label: "test"))
        #expect(try await limiter.admit(keyID: 1, rpm: nil, tpm: nil, now: 0) == .allowed)
        await #expect(throws: RedisError.self) { try await limiter.admit(keyID: 1, rpm: 1, tpm: nil, now: 0) }
    }
}
