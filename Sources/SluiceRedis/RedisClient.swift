import Crypto
import Foundation
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

/// An async Redis client over blocking hiredis connections.
///
/// Each command runs on a thread of the client's own `NIOThreadPool`, never on an event loop,
/// with a connection leased from a pool of idle ones. There are as many threads as the pool may
/// have connections, so a command never waits for a connection, only for a thread. A
/// connection that fails is dropped and the next command connects anew: when Redis comes back,
/// the client recovers on its own. Every connect, read and write is bounded by `timeout`.
public final class RedisClient: Service, Sendable {
    public struct Configuration: Sendable {
        public var endpoint: RedisEndpoint
        /// Threads, and so the most connections open at once.
        public var maxConnections: Int
        public var timeout: Duration

        public init(endpoint: RedisEndpoint, maxConnections: Int = 8, timeout: Duration = .milliseconds(500)) {
            self.endpoint = endpoint
            self.maxConnections = maxConnections
            self.timeout = timeout
        }
    }

    private struct State {
        var idle: [RedisConnection] = []
        var closed = false
    }

    private let configuration: Configuration
    private let threads: NIOThreadPool
    private let state = Mutex(State())
    private let logger: Logger

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        threads = NIOThreadPool(numberOfThreads: max(configuration.maxConnections, 1))
        threads.start()
    }

    /// Runs one command. Throws `RedisError.unavailable` when Redis cannot be reached in time and
    /// `RedisError.command` for an error reply.
    @discardableResult
    public func command(_ arguments: String...) async throws -> RedisReply {
        try await command(arguments)
    }

    @discardableResult
    public func command(_ arguments: [String]) async throws -> RedisReply {
        let reply = try await withConnection { connection in try connection.command(arguments) }
        if case .error(let message) = reply { throw RedisError.command(message) }
        return reply
    }

    /// Runs a Lua script by its SHA-1, loading it on the first NOSCRIPT (a new or restarted server).
    @discardableResult
    public func evaluate(_ script: RedisScript, keys: [String], arguments: [String]) async throws -> RedisReply {
        let tail = [String(keys.count)] + keys + arguments
        let reply = try await withConnection { connection in
            let first = try connection.command(["EVALSHA", script.sha1] + tail)
            if case .error(let message) = first, message.hasPrefix("NOSCRIPT") {
                return try connection.command(["EVAL", script.source] + tail)
            }
            return first
        }
        if case .error(let message) = reply { throw RedisError.command(message) }
        return reply
    }

    /// Answers when Redis does, for /health.
    public func ping() async throws {
        guard try await command("PING").string == "PONG" else { throw RedisError.unavailable("unexpected reply to PING") }
    }

    public func run() async throws {
        try? await gracefulShutdown()
        try await shutdown()
    }

    /// Closes the idle connections and stops the threads; later commands throw `closed`.
    public func shutdown() async throws {
        // Dropping the idle connections frees their contexts; leased ones are dropped on return.
        state.withLock { state in
            state.closed = true
            state.idle = []
        }
        try await threads.shutdownGracefully()
    }

    private func withConnection<T: Sendable>(_ body: @Sendable @escaping (RedisConnection) throws -> T) async throws -> T {
        if state.withLock({ $0.closed }) { throw RedisError.closed }
        return try await threads.runIfActive { [self] in
            let leased = try state.withLock { state -> RedisConnection? in
                if state.closed { throw RedisError.closed }
                return state.idle.popLast()
            }
            let connection = try leased ?? RedisConnection(endpoint: configuration.endpoint, timeout: configuration.timeout)
            let result = Result { try body(connection) }
            if !connection.isBroken {
                state.withLock { state in if !state.closed { state.idle.append(connection) } }
            } else {
                logger.warning("redis connection dropped", metadata: ["error": "\(result)"])
            }
            return try result.get()
        }
    }
}

/// A Lua script and its SHA-1, the name EVALSHA runs it by.
public struct RedisScript: Sendable {
    public let source: String
    public let sha1: String

    public init(_ source: String) {
        self.source = source
        sha1 = Insecure.SHA1.hash(data: Array(source.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
