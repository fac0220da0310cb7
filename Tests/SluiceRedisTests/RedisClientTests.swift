import Foundation
import Logging
import SluiceTestSupport
import Testing
@testable import SluiceRedis


private func uniqueKey() -> String { "test:\(UUID().uuidString)" }

@Suite(.enabled(if: TestRedis.url != nil)) struct RedisClientTests {
    @Test func repliesOfEveryShapeComeBack() async throws {
        let redis = try TestRedis.client()
        let key = uniqueKey()
        #expect(try await redis.command("SET", key, "héllo") == .status("OK"))
        #expect(try await redis.command("GET", key) == .string("héllo"))
        #expect(try await redis.command("GET", key + ":none") == .null)
        #expect(try await redis.command("RPUSH", key + ":list", "a", "", "c").int == 3)
        #expect(try await redis.command("LRANGE", key + ":list", "0", "-1") == .array([.string("a"), .string(""), .string("c")]))
        await #expect(throws: RedisError.self) { try await redis.command("INCR", key) }
        try await redis.ping()
        try await redis.shutdown()
        await #expect(throws: RedisError.closed) { try await redis.command("PING") }
    }

    @Test func scriptsRunBySHAAndAreLoadedWhenTheServerForgetsThem() async throws {
        let redis = try TestRedis.client()
        let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        let key = uniqueKey()
        try await redis.command("SCRIPT", "FLUSH")
        #expect(try await redis.evaluate(script, keys: [key], arguments: ["5"]).int == 5)
        #expect(try await redis.evaluate(script, keys: [key], arguments: ["2"]).int == 7)
        #expect(try await redis.command("SCRIPT", "EXISTS", script.sha1) == .array([.integer(1)]))
        try await redis.shutdown()
    }

    @Test func concurrentCommandsShareTheConnectionPool() async throws {
        let redis = try TestRedis.client(connections: 3)
        let key = uniqueKey()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<200 { group.addTask { try await redis.command("INCR", key) } }
            try await group.waitForAll()
        }
        #expect(try await redis.command("GET", key).int == 200)
        try await redis.shutdown()
    }

    /// A command that outlasts the timeout fails as unavailable, and the next one works on a new connection.
    @Test func aSlowReplyTimesOutAndTheClientRecovers() async throws {
        let redis = try TestRedis.client(connections: 1, timeout: .milliseconds(200))
        // BLPOP on an empty list answers null after 10 s; only the client's timeout can make it throw.
        // (No wall-clock bound here: under a loaded CI machine it flaked.)
        await #expect(throws: RedisError.self) { try await redis.command("BLPOP", uniqueKey(), "10") }
        #expect(try await redis.command("PING") == .status("PONG"))
        try await redis.shutdown()
    }

    @Test func aServerThatIsDownIsReportedUnavailableThenRecoveredFrom() async throws {
        let port = Int.random(in: 20_000..<30_000)
        // Refusals come at once; the timeout only bounds the connects, which the loaded suite can slow.
        let redis = try TestRedis.client("redis://127.0.0.1:\(port)", connections: 2)
        await #expect(throws: RedisError.self) { try await redis.command("PING") }
        let server = try RedisServerProcess(port: port)
        try await server.waitUntilReady(redis)
        #expect(try await redis.command("SET", "k", "v") == .status("OK"))
        try await server.stop()
        await #expect(throws: RedisError.self) { try await redis.command("GET", "k") }
        let again = try RedisServerProcess(port: port)
        try await again.waitUntilReady(redis)
        #expect(try await redis.command("PING") == .status("PONG"))
        try await again.stop()
        try await redis.shutdown()
    }

    @Test func urlsAreReadOrRefused() throws {
        #expect(try RedisEndpoint(url: "redis://:s3cret@10.0.0.5:6380/2") == RedisEndpoint(host: "10.0.0.5", port: 6380, password: "s3cret", database: 2))
        #expect(try RedisEndpoint(url: "redis://localhost").port == 6379)
        #expect(throws: RedisEndpoint.URLError.self) { try RedisEndpoint(url: "http://localhost") }
        #expect(throws: RedisEndpoint.URLError.self) { try RedisEndpoint(url: "redis://localhost/x") }
        #expect(throws: RedisEndpoint.URLError.self) { try RedisEndpoint(url: "redis://localhost?tls=1") }
    }
}
