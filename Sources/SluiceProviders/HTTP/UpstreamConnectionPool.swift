import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1

/// Scheme, host, port and the proxy tunnelled through: what a connection can be reused for. A
/// connection through one account's proxy is never reused for a call that must go direct.
struct UpstreamOrigin: Hashable, Sendable {
    var tls: Bool
    var host: String
    var port: Int
    var proxy: UpstreamProxy? = nil
}

/// An open connection to an upstream, usable by one exchange at a time.
final class UpstreamConnection: Sendable {
    let channel: any Channel
    let origin: UpstreamOrigin
    private let handler: NIOLoopBound<UpstreamConnectionHandler>

    init(channel: any Channel, origin: UpstreamOrigin, handler: NIOLoopBound<UpstreamConnectionHandler>) {
        self.channel = channel
        self.origin = origin
        self.handler = handler
    }

    /// Runs `body` with the handler on the connection's event loop: at once when already there.
    func onEventLoop(_ body: @escaping @Sendable (UpstreamConnectionHandler) -> Void) {
        if channel.eventLoop.inEventLoop {
            body(handler.value)
        } else {
            channel.eventLoop.execute { [handler] in body(handler.value) }
        }
    }

    /// Writes the request; the future completes with the response head, its body still streaming.
    func send(_ head: HTTPRequestHead, body: ByteBuffer?, headTimeout: TimeAmount) -> EventLoopFuture<UpstreamResponse> {
        let promise = channel.eventLoop.makePromise(of: UpstreamResponse.self)
        let exchange = UpstreamExchange(head: head, body: body, headTimeout: headTimeout, promise: promise)
        onEventLoop { $0.start(exchange) }
        return promise.futureResult
    }
}

/// Idle connections by origin, most recently used last, so that a quiet pool keeps reusing the
/// same few and lets the rest age out.
final class UpstreamConnectionPool: Sendable {
    private struct Idle {
        let connection: UpstreamConnection
        let since: NIODeadline
    }

    private struct State {
        var idle: [UpstreamOrigin: [Idle]] = [:]
        var shutDown = false
    }

    private let state = NIOLockedValueBox(State())
    private let idleTimeout: TimeAmount
    private let maxIdlePerOrigin: Int

    init(idleTimeout: TimeAmount, maxIdlePerOrigin: Int) {
        self.idleTimeout = idleTimeout
        self.maxIdlePerOrigin = maxIdlePerOrigin
    }

    /// The most recently used idle connection to `origin` that is still open and not too old; the
    /// too old ones it passes are closed (an upstream may drop them any moment, mid-request).
    func take(_ origin: UpstreamOrigin) -> UpstreamConnection? {
        let now = NIODeadline.now()
        var expired: [UpstreamConnection] = []
        let found: UpstreamConnection? = state.withLockedValue { state in
            while let last = state.idle[origin]?.popLast() {
                if now - last.since < idleTimeout, last.connection.channel.isActive { return last.connection }
                expired.append(last.connection)
            }
            return nil
        }
        for connection in expired { connection.channel.close(promise: nil) }
        return found
    }

    /// Called by the connection when a response has ended and the connection may be reused.
    func release(_ connection: UpstreamConnection) {
        let kept = state.withLockedValue { state in
            guard !state.shutDown, state.idle[connection.origin, default: []].count < maxIdlePerOrigin else { return false }
            state.idle[connection.origin, default: []].append(Idle(connection: connection, since: .now()))
            return true
        }
        if !kept { connection.channel.close(promise: nil) }
    }

    /// Called by the connection when it closed while idle.
    func forget(_ connection: UpstreamConnection) {
        state.withLockedValue { state in
            state.idle[connection.origin]?.removeAll { $0.connection === connection }
        }
    }

    /// Closes every idle connection, and every connection released from now on.
    func shutDown() async {
        let idle = state.withLockedValue { state in
            state.shutDown = true
            defer { state.idle = [:] }
            return state.idle.values.flatMap { $0.map(\.connection) }
        }
        for connection in idle { try? await connection.channel.close() }
    }
}
