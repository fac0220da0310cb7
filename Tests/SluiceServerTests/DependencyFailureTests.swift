import Foundation
import Logging
import SluiceCore
import SluiceRedis
import SluiceServer
import SluiceTestSupport
import Testing

/// A dependency going away under a running gateway (issue 5, part 4): requests that need it are
/// refused with a 503, `/health` says what is down, what is already decided is kept until the
/// dependency returns, and service resumes with no one's help. Each test runs a server of its own.
@Suite(.enabled(if: TestRedis.url != nil && TestPostgres.baseURL != nil && !TestPostgres.serverTestsUsePostgres))
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

    /// When only the shared-pool allowance cannot be read (its Redis hash is replaced by a string,
    /// so its script fails), the request is refused with a 503 before anything is held: nothing is
    /// charged or logged, and the next request is served. (Broken before the user's first request:
    /// after one, the instance answers reads from what that request's spend wrote back, for a second.)
    @Test func anUnreadableAllowanceRefusesTheRequestBeforeHoldingAnything() async throws {
        let url = try #require(TestRedis.url)
        let prefix = "allowance-\(UUID().uuidString)"
        let redis = RedisClient(configuration: .init(endpoint: try RedisEndpoint(url: url)), logger: Logger(label: "test"))
        try await Harness.run(configure: {
            $0.redis.url = url
            $0.redis.keyPrefix = prefix
        }) { h in
            try await h.account(secret: "a")
            let user = try await h.user(credits: Credits(whole: 1))

            let allowanceKey = "\(prefix):allowance:\(user.id):mock"
            try await redis.command("SET", allowanceKey, "not a hash")
            let refused = try await h.chat(user.key)
            #expect(refused.status == 503)
            #expect(refused.error?["code"] as? String == "dependency_unavailable")
            #expect(h.gateway.credits.outstandingHolds == 0)

            try await redis.command("DEL", allowanceKey)
            #expect(try await h.chat(user.key).status == 200)
            #expect(try await h.chat(user.key).status == 200)
            await h.settled()
            let spent = Credits(micros: 2 * BillingTests.mockCost.micros)
            #expect(try await h.gateway.store.balance(userID: user.id) == Credits(whole: 1) - spent)
            let available = try await h.gateway.credits.available(userID: user.id)
            #expect(available == Credits(whole: 1) - spent)
            let logs = try await h.gateway.store.usageLogs(userID: user.id)
            #expect(logs.map(\.status) == [200, 200])
            try await BillingTests().expectLedgerBalances(h, userID: user.id)
        }
        try await redis.shutdown()
    }

    /// PostgreSQL crashes: a key the gateway has not cached is refused, cached keys with loaded
    /// balances are still served while their charges queue, the bounded queue then refuses new
    /// requests rather than serve them unbilled, and every queued charge is written on return.
    @Test func postgresGoingAwayQueuesChargesUpToTheBoundThenRecovers() async throws {
        let postgres = try await PostgresServerProcess(port: try GatewayProcess.freePort())
        let capacity = 3
        do {
            try await Harness.run(configure: {
                $0.database.url = postgres.url + "&connect_timeout=1"
                $0.settlement.queueCapacity = capacity
                $0.auth.keyCacheTTLMillis = 60_000
            }) { h in
                try await h.account(secret: "a")
                let known = try await h.user(credits: Credits(whole: 1))
                let stranger = try await h.user(credits: Credits(whole: 1))
                #expect(try await h.chat(known.key).status == 200)
                await h.settled()
                try await postgres.stop()

                let unknownKey = try await h.chat(stranger.key)
                #expect(unknownKey.status == 503)
                #expect(unknownKey.error?["code"] as? String == "store_unavailable")
                let health = try await h.request("/health", method: .GET, key: nil)
                #expect(health.status == 503)
                #expect(health.json?["status"] as? String == "degraded" && health.json?["store"] as? String == "unreachable")

                // Served while their charges wait, until the queue holds `capacity` of them.
                var servedWhileDown = 0
                var refusal: Harness.Reply?
                for _ in 0..<(capacity + 3) {
                    let reply = try await h.chat(known.key)
                    if reply.status == 200 { servedWhileDown += 1 } else { refusal = reply; break }
                }
                #expect(servedWhileDown == capacity)
                #expect(refusal?.status == 503)
                #expect(refusal?.error?["code"] as? String == "overloaded", "\(refusal?.json ?? [:])")

                try await postgres.start()
                try await eventually("the queued charges are written", within: 60) {
                    (try? await h.gateway.store.usageLogs(userID: known.id).count) == 1 + servedWhileDown
                }
                #expect(try await h.chat(stranger.key).status == 200)
                #expect(try await h.chat(known.key).status == 200)
                #expect(try await h.request("/health", method: .GET, key: nil).status == 200)
                await h.settled()
                // Every served request is billed once, the refused ones not at all.
                let served = Int64(2 + servedWhileDown)
                #expect(try await h.gateway.store.usageLogs(userID: known.id).count == Int(served))
                #expect(try await h.gateway.store.balance(userID: known.id) == Credits(whole: 1) - Credits(micros: served * BillingTests.mockCost.micros))
                try await BillingTests().expectLedgerBalances(h, userID: known.id)
            }
        } catch {
            await postgres.remove()
            throw error
        }
        await postgres.remove()
    }
}
