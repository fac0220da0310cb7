import Foundation
import Logging
import SluiceCore
import SluiceRedis
import SluiceServer
import SluiceTestSupport
import Testing

/// Redis going away under a running gateway (issue 5, part 4): requests that need it are refused
/// with a 503, `/health` says what is down, a request already running still gets its answer, and
/// its settle waits for Redis and is written when it returns, with no one's help.
@Suite(.enabled(if: TestRedis.url != nil && !TestPostgres.serverTestsUsePostgres))
struct DependencyFailureTests {
    @Test func redisGoingAwayFailsClosedThenServiceResumesWithoutLosingASettle() async throws {
        let port = try GatewayProcess.freePort()
        let probe = RedisClient(
            configuration: .init(endpoint: RedisEndpoint(host: "127.0.0.1", port: port), timeout: .milliseconds(200)), logger: Logger(label: "test"))
        let first = try RedisServerProcess(port: port)
        try await first.waitUntilReady(probe)
        var restarted: RedisServerProcess?
        try await Harness.run(configure: {
            $0.redis.url = "redis://127.0.0.1:\(port)"
            $0.redis.timeoutMillis = 200
        }) { h in
            try await h.account(secret: "a")
            let user = try await h.user(credits: Credits(whole: 1))
            #expect(try await h.chat(user.key).status == 200)

            // A stream is running when Redis dies: the mock holds it after its first content chunk.
            h.control.set(.gated, for: "a")
            var running = EventReader(try await h.openStream(user.key))
            while let event = try await running.next(), !event.contains(#""content":"Hello"#) {}
            try await first.stop()

            let refused = try await h.chat(user.key)
            #expect(refused.status == 503)
            #expect(refused.error?["code"] as? String == "dependency_unavailable")
            let health = try await h.request("/health", method: .GET, key: nil)
            #expect(health.status == 503)
            #expect(health.json?["status"] as? String == "degraded" && health.json?["redis"] as? String == "unreachable")

            // It still gets its answer; its settle waits for Redis.
            h.control.releaseGate()
            #expect(try await running.rest().last == "[DONE]")
            try await Task.sleep(for: .milliseconds(300))
            #expect(try await h.gateway.store.usageLogs(userID: user.id).count == 1)

            // Redis returns, empty: the settle reloads the balance and lands, and service resumes.
            restarted = try RedisServerProcess(port: port)
            try await restarted?.waitUntilReady(probe)
            try await eventually("the held settle is written") {
                try await h.gateway.store.usageLogs(userID: user.id).count == 2
            }
            #expect(try await h.gateway.store.usageLogs(userID: user.id).allSatisfy { $0.charged == BillingTests.mockCost })
            h.control.set(.succeed, for: "a")
            #expect(try await h.chat(user.key).status == 200)
            #expect(try await h.request("/health", method: .GET, key: nil).status == 200)
            await h.settled()
            #expect(try await h.gateway.store.balance(userID: user.id) == Credits(whole: 1) - Credits(micros: 3 * BillingTests.mockCost.micros))
            try await BillingTests().expectLedgerBalances(h, userID: user.id)
        }
        try await restarted?.stop()
        try await probe.shutdown()
    }
}
