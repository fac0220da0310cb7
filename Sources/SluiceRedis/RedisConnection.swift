import NIOCore
import NIOPosix

/// One connection to Redis on a NIO channel, shared by every caller that `RedisClient` sends to
/// it: commands are pipelined (`RedisPipelineHandler`), so no caller waits for another's reply
/// before its own command is written, and no thread blocks on the socket.
final class RedisConnection: Sendable {
    private let channel: any Channel
    private let handler: NIOLoopBound<RedisPipelineHandler>

    private init(channel: any Channel, handler: NIOLoopBound<RedisPipelineHandler>) {
        self.channel = channel
        self.handler = handler
    }

    /// False once the connection has failed or closed; the client then connects anew.
    var isActive: Bool { channel.isActive }

    /// Connects, authenticates and selects the database. Every step is bounded by `timeout`.
    static func connect(to endpoint: RedisEndpoint, timeout: Duration, on eventLoop: any EventLoop) -> EventLoopFuture<RedisConnection> {
        let limit = TimeAmount(timeout)
        let connected = ClientBootstrap(group: eventLoop)
            .connectTimeout(limit)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RedisPipelineHandler(timeout: limit))
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .flatMapErrorThrowing { error in throw RedisError.unavailable("connect: \(error)") }
        return connected.flatMap { channel in
            let connection: RedisConnection
            do {
                let handler = try channel.pipeline.syncOperations.handler(type: RedisPipelineHandler.self)
                connection = RedisConnection(channel: channel, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
            } catch {
                channel.close(promise: nil)
                return channel.eventLoop.makeFailedFuture(error)
            }
            var setup = [[String]]()
            if let password = endpoint.password { setup.append(["AUTH", password]) }
            if endpoint.database != 0 { setup.append(["SELECT", String(endpoint.database)]) }
            return connection.prepare(setup).map { connection }.flatMapError { error in
                channel.close(promise: nil)
                return channel.eventLoop.makeFailedFuture(error)
            }
        }
    }

    /// Sends one command and waits for its reply. An error reply is returned, not thrown: for
    /// EVALSHA the caller wants to see NOSCRIPT. Throws `RedisError.unavailable` when the
    /// connection fails or the reply is late.
    func send(_ arguments: [String]) async throws -> RedisReply {
        // The handler resumes the caller straight from the event loop: awaiting a future instead
        // would cost a second trip to the loop to register the callback.
        try await withCheckedThrowingContinuation { continuation in
            let handler = handler
            if channel.eventLoop.inEventLoop {
                handler.value.send(arguments, to: .continuation(continuation))
            } else {
                channel.eventLoop.execute { handler.value.send(arguments, to: .continuation(continuation)) }
            }
        }
    }

    func close() { channel.close(promise: nil) }

    /// Runs the connection's setup commands in order; an error reply fails the connect.
    private func prepare(_ commands: [[String]]) -> EventLoopFuture<Void> {
        let eventLoop = channel.eventLoop
        var step = eventLoop.makeSucceededVoidFuture()
        for command in commands {
            step = step.flatMap { [handler] in
                let promise = eventLoop.makePromise(of: RedisReply.self)
                handler.value.send(command, to: .promise(promise))
                return promise.futureResult.flatMapThrowing { reply in
                    if case .error(let message) = reply { throw RedisError.command("\(command[0]): \(message)") }
                }
            }
        }
        return step
    }
}
