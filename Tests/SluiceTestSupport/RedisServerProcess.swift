import Foundation
import SluiceRedis

/// A redis-server of the test's own, to stop and start.
public final class RedisServerProcess {
    let process: ChildProcess

    /// `options` are more redis-server flags, such as `["--requirepass", "secret"]`.
    public init(port: Int, options: [String] = []) throws {
        process = try ChildProcess(
            "/usr/bin/redis-server", ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no"] + options)
    }

    public func waitUntilReady(_ redis: RedisClient) async throws {
        for _ in 0..<50 {
            if (try? await redis.command("PING")) != nil { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw RedisError.unavailable("redis-server did not start")
    }

    /// Kills it outright, as a crash would.
    public func stop() async throws {
        process.signal(SIGKILL)
        for _ in 0..<100 where process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
    }
}
