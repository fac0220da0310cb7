import Foundation
import Logging
import NIOCore
import NIOPosix
import SluiceTestSupport
import Synchronization
import Testing
@testable import SluiceRedis

/// How commands share connections, and what the client does when Redis breaks the protocol.
@Suite struct RedisConnectionTests {
    @Test(.enabled(if: TestRedis.url != nil)) func pipelinedRepliesReachTheirOwnCallers() async throws {
        let redis = try TestRedis.client(connections: 1)
        try await withThrowingTaskGroup(of: (Int, RedisReply).self) { group in
            for index in 0..<500 { group.addTask { (index, try await redis.command("ECHO", "value-\(index)")) } }
            for try await (index, reply) in group { #expect(reply == .string("value-\(index)")) }
        }
        try await redis.shutdown()
    }

    @Test(.enabled(if: TestRedis.url != nil)) func commandsAreSpreadOverEveryConnection() async throws {
        let redis = try TestRedis.client(connections: 3)
        let ids = try await withThrowingTaskGroup(of: Int64?.self) { group in
            for _ in 0..<60 { group.addTask { try await redis.command("CLIENT", "ID").int } }
            return try await group.reduce(into: Set<Int64?>()) { $0.insert($1) }
        }
        #expect(ids.count == 3)
        #expect(!ids.contains(nil))
        try await redis.shutdown()
    }

    /// A megabyte with CR, LF and NUL inside arrives in many reads and goes out whole.
    @Test(.enabled(if: TestRedis.url != nil)) func largeBinaryValuesRoundTrip() async throws {
        let redis = try TestRedis.client(connections: 1)
        let key = "test:\(UUID().uuidString)"
        let value = String(repeating: "line\r\n\u{0}é*$-:+", count: 80_000)
        #expect(try await redis.command("SET", key, value) == .status("OK"))
        #expect(try await redis.command("GET", key) == .string(value))
        try await redis.command("DEL", key)
        try await redis.shutdown()
    }

    @Test func aPasswordAndADatabaseAreSentOnConnect() async throws {
        let port = Int.random(in: 30_000..<40_000)
        let server = try RedisServerProcess(port: port, options: ["--requirepass", "s3cret"])
        let third = try TestRedis.client("redis://:s3cret@127.0.0.1:\(port)/3", connections: 1)
        try await server.waitUntilReady(third)
        try await third.command("SET", "k", "in three")
        let first = try TestRedis.client("redis://:s3cret@127.0.0.1:\(port)", connections: 1)
        #expect(try await first.command("GET", "k") == .null)
        #expect(try await third.command("GET", "k") == .string("in three"))
        let wrong = try TestRedis.client("redis://:guess@127.0.0.1:\(port)", connections: 1)
        let error = await #expect(throws: RedisError.self) { try await wrong.command("PING") }
        #expect(error?.description.contains("AUTH") == true)
        for redis in [first, third, wrong] { try await redis.shutdown() }
        try await server.stop()
    }

    @Test func aMalformedReplyFailsTheCommandAsUnavailable() async throws {
        let server = try await ScriptedServer.start(answer: "?what is this\r\n")
        let redis = try TestRedis.client("redis://127.0.0.1:\(server.port)", connections: 1)
        let error = await #expect(throws: RedisError.self) { try await redis.command("PING") }
        guard case .unavailable(let reason) = error else { Issue.record("got \(String(describing: error))"); return }
        #expect(reason.contains("malformed reply"))
        try await redis.shutdown()
        try await server.stop()
    }

    /// A reply with no command waiting means replies and commands no longer line up: the
    /// connection is dropped and the next command gets a new one.
    @Test func aReplyNobodyAskedForDropsTheConnection() async throws {
        let server = try await ScriptedServer.start(answer: "+OK\r\n+OK\r\n")
        let redis = try TestRedis.client("redis://127.0.0.1:\(server.port)", connections: 1)
        #expect(try await redis.command("PING") == .status("OK"))
        #expect(try await redis.command("PING") == .status("OK"))
        #expect(server.connections == 2)
        try await redis.shutdown()
        try await server.stop()
    }
}

/// A TCP server that answers every read with the same bytes, whatever was asked.
private struct ScriptedServer {
    let channel: any Channel
    final class Counter: Sendable { let count = Mutex(0) }
    let accepted: Counter

    var port: Int { channel.localAddress?.port ?? 0 }
    var connections: Int { accepted.count.withLock { $0 } }

    static func start(answer: String) async throws -> ScriptedServer {
        let accepted = Counter()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                accepted.count.withLock { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AnswerEveryRead(answer: answer))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return ScriptedServer(channel: channel, accepted: accepted)
    }

    func stop() async throws { try await channel.close() }

    private final class AnswerEveryRead: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let answer: String
        init(answer: String) { self.answer = answer }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: answer)), promise: nil)
        }
    }
}
