import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A real HTTP CONNECT proxy on loopback, for the per-account proxy tests: it reads a CONNECT
/// head, checks `Proxy-Authorization` when it wants one, opens the tunnel and pipes bytes both
/// ways. It records what it was asked, and can be told to refuse.
public final class ConnectProxy: Sendable {
    public struct Seen: Sendable {
        /// The `host:port` of each CONNECT, in order.
        public var targets: [String] = []
        /// The `Proxy-Authorization` of each CONNECT.
        public var authorizations: [String?] = []
    }

    public let port: Int
    public var url: String { "http://127.0.0.1:\(port)" }
    /// When set, each CONNECT is answered with this status and no tunnel.
    public let refuseWith = NIOLockedValueBox<Int?>(nil)
    public let seen = NIOLockedValueBox(Seen())
    /// The client side of every tunnel opened, for `dropTunnels`.
    private let tunnels = NIOLockedValueBox<[any Channel]>([])
    private let channel: any Channel
    /// Wanted `Proxy-Authorization`, or nil to let anyone through.
    let requiredAuthorization: String?

    public static func start(requiredAuthorization: String? = nil) async throws -> ConnectProxy {
        let box = NIOLockedValueBox<ConnectProxy?>(nil)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    guard let proxy = box.withLockedValue({ $0 }) else { throw ChannelError.ioOnClosedChannel }
                    try child.pipeline.syncOperations.addHandler(ConnectHead(proxy: proxy))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let proxy = ConnectProxy(channel: channel, requiredAuthorization: requiredAuthorization)
        box.withLockedValue { $0 = proxy }
        return proxy
    }

    private init(channel: any Channel, requiredAuthorization: String?) {
        self.channel = channel
        port = channel.localAddress?.port ?? 0
        self.requiredAuthorization = requiredAuthorization
    }

    public func stop() async throws {
        dropTunnels()
        try await channel.close()
    }

    /// Closes every open tunnel, as a proxy that restarts would: pooled connections through it die.
    public func dropTunnels() {
        for tunnel in tunnels.withLockedValue({ $0 }) { tunnel.close(promise: nil) }
    }

    /// Reads the client's CONNECT head, then becomes one end of the pipe.
    final class ConnectHead: ChannelInboundHandler, RemovableChannelHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let proxy: ConnectProxy
        var received = ByteBuffer()

        init(proxy: ConnectProxy) { self.proxy = proxy }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var bytes = unwrapInboundIn(data)
            received.writeBuffer(&bytes)
            let text = String(buffer: received)
            guard let end = text.range(of: "\r\n\r\n") else { return }
            let lines = text[..<end.lowerBound].components(separatedBy: "\r\n")
            let request = lines[0].split(separator: " ")
            let authorization = lines.dropFirst().first { $0.lowercased().hasPrefix("proxy-authorization:") }
                .map { String($0.dropFirst("proxy-authorization:".count)).trimmingCharacters(in: .whitespaces) }
            guard request.count == 3, request[0] == "CONNECT", let colon = request[1].lastIndex(of: ":"),
                  let port = Int(request[1][request[1].index(after: colon)...])
            else { return answer(context, "HTTP/1.1 400 Bad Request\r\n\r\n", close: true) }
            let target = String(request[1])
            proxy.seen.withLockedValue { seen in
                seen.targets.append(target)
                seen.authorizations.append(authorization)
            }
            if let status = proxy.refuseWith.withLockedValue({ $0 }) {
                return answer(context, "HTTP/1.1 \(status) Refused\r\n\r\n", close: true)
            }
            if let wanted = proxy.requiredAuthorization, authorization != wanted {
                return answer(context, "HTTP/1.1 407 Proxy Authentication Required\r\n\r\n", close: true)
            }
            let host = String(request[1][..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
            let client = context.channel
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            ClientBootstrap(group: context.eventLoop).connect(host: host, port: port).whenComplete { result in
                let (handler, context) = loopBound.value
                switch result {
                case .failure: handler.answer(context, "HTTP/1.1 502 Bad Gateway\r\n\r\n", close: true)
                case .success(let upstream):
                    let toUpstream = Pipe(partner: upstream)
                    handler.proxy.tunnels.withLockedValue { $0.append(client) }
                    upstream.pipeline.addHandler(Pipe(partner: client)).whenSuccess {
                        // Answered before the swap: the client sends nothing through until it reads this.
                        handler.answer(context, "HTTP/1.1 200 Connection established\r\n\r\n", close: false)
                        context.pipeline.syncOperations.removeHandler(handler, promise: nil)
                        try? context.pipeline.syncOperations.addHandler(toUpstream)
                    }
                }
            }
        }

        func answer(_ context: ChannelHandlerContext, _ head: String, close: Bool) {
            let written = context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: head)))
            if close { written.whenComplete { [channel = context.channel] _ in channel.close(promise: nil) } }
        }
    }

    /// Forwards what one end reads to the other, and a close the same way.
    final class Pipe: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let partner: any Channel

        init(partner: any Channel) { self.partner = partner }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            partner.writeAndFlush(unwrapInboundIn(data), promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            partner.close(promise: nil)
            context.fireChannelInactive()
        }
    }
}
