import Crypto
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization

/// An async Redis client on NIO.
///
/// Commands are spread round-robin over up to `maxConnections` connections, each shared by
/// every caller and pipelined, so a command never waits for a connection or a thread: it is
/// written at once and its caller resumes when the reply arrives. A connection is opened on
/// first use; one that fails is dropped and the next command through its slot connects anew, so
/// when Redis comes back the client recovers on its own. Every connect and reply is bounded by
/// `timeout`.
///
/// The connections live on an event loop of their own, not the server's: a reply is read as
/// soon as it arrives, and its timeout measured, however busy the server's loops are. On the
/// server's loops, a loaded process (the whole test suite at once) held replies back for hundreds
/// of milliseconds and tripped the 500 ms timeout.
public final class RedisClient: Service, Sendable {
    public struct Configuration: Sendable {
        public var endpoint: RedisEndpoint
        /// How many connections commands are spread over.
        public var maxConnections: Int
        public var timeout: Duration

        public init(endpoint: RedisEndpoint, maxConnections: Int = 2, timeout: Duration = .milliseconds(500)) {
            self.endpoint = endpoint
            self.maxConnections = maxConnections
            self.timeout = timeout
        }
    }

    private enum Slot {
        case empty
        /// Connecting: every command that comes to the slot meanwhile waits for the same connect.
        case connecting(EventLoopFuture<RedisConnection>)
        case ready(RedisConnection)
    }

    private struct State {
        var slots: [Slot]
        var next = 0
        var closed = false
    }

    /// The client's own thread. It is never shut down: a command racing the client's shutdown
    /// must still reach a running loop, or its caller would wait forever. Sluice makes one client
    /// per process. (One thread shared by every client of the test process fell behind.)
    private let eventLoop = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private let configuration: Configuration
    private let state: Mutex<State>
    private let logger: Logger

    public init(configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        state = Mutex(State(slots: Array(repeating: .empty, count: max(configuration.maxConnections, 1))))
    }

    /// Runs one command. Throws `RedisError.unavailable` when Redis cannot be reached in time and
    /// `RedisError.command` for an error reply.
    @discardableResult
    public func command(_ arguments: String...) async throws -> RedisReply {
        try await command(arguments)
    }

    @discardableResult
    public func command(_ arguments: [String]) async throws -> RedisReply {
        let reply = try await withConnection { connection in try await connection.send(arguments) }
        if case .error(let message) = reply { throw RedisError.command(message) }
        return reply
    }

    /// Runs a Lua script by its SHA-1, loading it on the first NOSCRIPT (a new or restarted server).
    @discardableResult
    public func evaluate(_ script: RedisScript, keys: [String], arguments: [String]) async throws -> RedisReply {
        let tail = [String(keys.count)] + keys + arguments
        let reply = try await withConnection { connection in
            let first = try await connection.send(["EVALSHA", script.sha1] + tail)
            if case .error(let message) = first, message.hasPrefix("NOSCRIPT") {
                return try await connection.send(["EVAL", script.source] + tail)
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

    /// Closes the connections; later commands throw `closed`. Commands still waiting for a
    /// reply fail as unavailable.
    public func shutdown() async throws {
        let slots = state.withLock { state in
            state.closed = true
            let open = state.slots
            state.slots = open.map { _ in .empty }
            return open
        }
        for slot in slots {
            switch slot {
            case .empty: break
            case .connecting(let connect): connect.whenSuccess { $0.close() }
            case .ready(let connection): connection.close()
            }
        }
    }

    /// Runs `body` on the next connection in turn. A connection can fail between being picked
    /// and being written to; then nothing was sent, and `body` runs once more on another one.
    private func withConnection(_ body: (RedisConnection) async throws -> RedisReply) async throws -> RedisReply {
        do {
            do {
                return try await body(try await connection())
            } catch is RedisConnectionGone {
                return try await body(try await connection())
            }
        } catch is RedisConnectionGone {
            throw RedisError.unavailable("connection closed")
        } catch let error as RedisError {
            if case .unavailable = error { logger.warning("redis connection dropped", metadata: ["error": "\(error)"]) }
            throw error
        }
    }

    /// The connection of the next slot in turn, opened first if the slot has none or its
    /// connection has failed.
    private func connection() async throws -> RedisConnection {
        let picked = try state.withLock { state -> Pick in
            if state.closed { throw RedisError.closed }
            let index = state.next
            state.next = (index + 1) % state.slots.count
            switch state.slots[index] {
            case .ready(let connection) where connection.isActive:
                return .open(connection)
            case .connecting(let connect):
                return .connecting(PendingConnect(slot: index, future: connect))
            case .ready, .empty:
                let connect = RedisConnection.connect(
                    to: configuration.endpoint, timeout: configuration.timeout, on: eventLoop.next())
                state.slots[index] = .connecting(connect)
                return .connecting(PendingConnect(slot: index, future: connect))
            }
        }
        switch picked {
        case .open(let connection):
            return connection
        case .connecting(let pending):
            do {
                let connection = try await pending.future.get()
                replace(pending, with: .ready(connection))
                return connection
            } catch {
                replace(pending, with: .empty)
                throw error
            }
        }
    }

    /// What a command finds in its slot: an open connection, or a connect to wait for (begun
    /// by this command if the slot had none).
    private enum Pick {
        case open(RedisConnection)
        case connecting(PendingConnect)
    }

    private struct PendingConnect {
        let slot: Int
        let future: EventLoopFuture<RedisConnection>
    }

    /// Settles a slot's connect, unless the slot has moved on since (shutdown, or a newer connect).
    private func replace(_ pending: PendingConnect, with slot: Slot) {
        state.withLock { state in
            guard case .connecting(let current) = state.slots[pending.slot], current === pending.future else { return }
            state.slots[pending.slot] = state.closed ? .empty : slot
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
