import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A loopback HTTP/1.1 server whose answers a test sets, and which counts what it saw: the
/// upstream for the upstream client's own tests.
final class ScriptedUpstream: Sendable {
    enum Reply: Sendable {
        case json(String, close: Bool = false)
        /// `parts` chunks of `"part N\n"`, one every `interval`, then the end.
        case stream(parts: Int, interval: TimeAmount)
        /// Never answer.
        case hang
    }

    struct Seen: Sendable {
        var connections = 0
        var closedConnections = 0
        var requests: [(head: HTTPRequestHead, body: String)] = []
    }

    let seen: NIOLockedValueBox<Seen>
    let reply: NIOLockedValueBox<Reply>
    private let channel: any Channel
    private let clients: NIOLockedValueBox<[any Channel]>

    private let scheme: String
    var url: String { "\(scheme)://localhost:\(channel.localAddress!.port!)" }

    private init(
        channel: any Channel, scheme: String, reply: NIOLockedValueBox<Reply>, seen: NIOLockedValueBox<Seen>, clients: NIOLockedValueBox<[any Channel]>
    ) {
        self.channel = channel
        self.scheme = scheme
        self.reply = reply
        self.seen = seen
        self.clients = clients
    }

    /// `tls`: serve HTTPS with this context.
    static func start(_ reply: Reply = .json(#"{"ok":true}"#), tls: NIOSSLContext? = nil) async throws -> ScriptedUpstream {
        let replyBox = NIOLockedValueBox(reply)
        let seen = NIOLockedValueBox(Seen())
        let clients = NIOLockedValueBox<[any Channel]>([])
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                clients.withLockedValue { $0.append(channel) }
                return channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(Handler(reply: replyBox, seen: seen))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return ScriptedUpstream(channel: channel, scheme: tls == nil ? "http" : "https", reply: replyBox, seen: seen, clients: clients)
    }

    func stop() async throws {
        try await closeClientConnections()
        try await channel.close()
    }

    /// Closes the server's side of every connection, as an upstream does with idle ones.
    func closeClientConnections() async throws {
        for client in clients.withLockedValue({ $0 }) { try? await client.close() }
    }

    private final class Handler: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let reply: NIOLockedValueBox<Reply>
        let seen: NIOLockedValueBox<Seen>
        var head: HTTPRequestHead?
        var body = ""
        var streaming: Scheduled<Void>?

        init(reply: NIOLockedValueBox<Reply>, seen: NIOLockedValueBox<Seen>) {
            self.reply = reply
            self.seen = seen
        }

        func channelActive(context: ChannelHandlerContext) {
            seen.withLockedValue { $0.connections += 1 }
            context.fireChannelActive()
        }

        func channelInactive(context: ChannelHandlerContext) {
            streaming?.cancel()
            seen.withLockedValue { $0.closedConnections += 1 }
            context.fireChannelInactive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                self.head = head
                body = ""
            case .body(let buffer):
                body += String(buffer: buffer)
            case .end:
                guard let head else { return }
                seen.withLockedValue { $0.requests.append((head, body)) }
                respond(context: context)
            }
        }

        private func respond(context: ChannelHandlerContext) {
            switch reply.withLockedValue({ $0 }) {
            case .hang:
                break
            case .json(let text, let close):
                var headers = HTTPHeaders([("content-type", "application/json"), ("content-length", String(text.utf8.count))])
                if close { headers.add(name: "connection", value: "close") }
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                if close { context.close(promise: nil) }
            case .stream(let parts, let interval):
                let headers = HTTPHeaders([("content-type", "text/event-stream"), ("transfer-encoding", "chunked")])
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                sendParts(from: 1, of: parts, every: interval, context: context)
            }
        }

        private func sendParts(from part: Int, of parts: Int, every interval: TimeAmount, context: ChannelHandlerContext) {
            streaming = context.eventLoop.assumeIsolated().scheduleTask(in: interval) { [self] in
                context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "part \(part)\n")))), promise: nil)
                if part == parts {
                    context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
                } else {
                    sendParts(from: part + 1, of: parts, every: interval, context: context)
                }
            }
        }
    }
}
