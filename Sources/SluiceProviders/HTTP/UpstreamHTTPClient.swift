import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// The HTTP/1.1 client for upstream calls: pooled keep-alive connections, each request written
/// in one flush, the response head handed over as soon as it arrives and the body streamed with
/// backpressure.
///
/// Sluice makes one kind of call on its hot path, a POST with a small JSON body, so this client
/// does only that, in as few hops between threads as NIO allows: one to the event loop to write
/// the request, one back with the response. A general client (redirects, proxies, HTTP/2,
/// decompression) wrote each request in two system calls and hopped between threads several
/// times more; replacing it bought 11–33 % of throughput (docs/benchmarks.md).
public final class UpstreamHTTPClient: Sendable {
    public struct Configuration: Sendable {
        public var connectTimeout: TimeAmount = .seconds(10)
        /// The longest wait for any byte once a request is sent, between reads of a streaming body too.
        public var readTimeout: TimeAmount = .seconds(120)
        /// After this much silence in a body, its consumer gets an empty read (see
        /// `UpstreamConnectionHandler`); nil: never.
        public var heartbeat: TimeAmount? = nil
        /// An idle connection older than this is closed rather than reused.
        public var idleTimeout: TimeAmount = .seconds(60)
        public var maxIdleConnectionsPerOrigin = 1024
        /// For HTTPS upstreams: the system's trust roots, certificates and host names verified.
        public var tls: TLSConfiguration = .makeClientConfiguration()

        public init() {}
    }

    private let group: any EventLoopGroup
    private let configuration: Configuration
    private let pool: UpstreamConnectionPool
    private let tlsContext = NIOLockedValueBox<NIOSSLContext?>(nil)
    private let parsedURLs = NIOLockedValueBox<[String: UpstreamURL]>([:])

    public init(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, configuration: Configuration = .init()) {
        self.group = group
        self.configuration = configuration
        pool = UpstreamConnectionPool(idleTimeout: configuration.idleTimeout, maxIdlePerOrigin: configuration.maxIdleConnectionsPerOrigin)
    }

    /// Sends one request, through `proxy` when given (never around it). Waits at most
    /// `headTimeout` for the response head; the body then streams, bounded by the read timeout
    /// between reads.
    ///
    /// Throws `UpstreamTransportError` when no response head arrived, and `CancellationError` when the
    /// calling task was cancelled (the connection is then closed).
    public func execute(
        _ method: HTTPMethod, url: String, headers: HTTPHeaders, body: ByteBuffer?, headTimeout: TimeAmount, proxy: UpstreamProxy? = nil
    ) async throws -> UpstreamResponse {
        guard var target = parse(url) else { throw UpstreamTransportError.connect("not an http or https URL") }
        target.origin.proxy = proxy
        var headers = headers
        headers.replaceOrAdd(name: "host", value: target.hostHeader)
        headers.replaceOrAdd(name: "content-length", value: String(body?.readableBytes ?? 0))
        guard headers.areSendable else { throw UpstreamTransportError.connect("a request header holds a character HTTP forbids") }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: target.pathAndQuery, headers: headers)
        // A pooled connection can turn out closed just as it is taken; nothing was written on it
        // then, so the next one is tried.
        var fromPool = true
        while true {
            let pooled = fromPool ? pool.take(target.origin) : nil
            let connection: UpstreamConnection
            if let pooled { connection = pooled } else { connection = try await connect(target.origin) }
            do {
                return try await withTaskCancellationHandler {
                    try await connection.send(head, body: body, headTimeout: headTimeout).get()
                } onCancel: {
                    connection.channel.close(promise: nil)
                }
            } catch UpstreamConnectionState.Failure.stale where pooled != nil {
                continue
            } catch UpstreamConnectionState.Failure.remoteClosed where pooled != nil && !Task.isCancelled {
                // An upstream may close an idle connection just as it is reused, without reading
                // the request. Once more, on a new connection: failing over instead would cool a
                // healthy account, and would send the request again all the same.
                fromPool = false
                continue
            } catch {
                if Task.isCancelled { throw CancellationError() }
                switch error {
                case UpstreamConnectionState.Failure.headTimeout, UpstreamConnectionState.Failure.readTimeout:
                    throw UpstreamTransportError.timeout
                default:
                    throw UpstreamTransportError.connect(String(describing: error))
                }
            }
        }
    }

    /// Closes the idle connections. Calls still running end as their upstreams answer.
    public func shutdown() async { await pool.shutDown() }

    private func connect(_ origin: UpstreamOrigin) async throws -> UpstreamConnection {
        let tls = try origin.tls ? sslContext() : nil
        let pool = pool
        let readTimeout = configuration.readTimeout
        let heartbeat = configuration.heartbeat
        let connectTimeout = configuration.connectTimeout
        /// TLS to the upstream, then HTTP: at once on a direct connection, after the tunnel is up
        /// on one through a proxy.
        @Sendable func addUpstreamHandlers(_ channel: any Channel) throws {
            let pipeline = channel.pipeline.syncOperations
            if let tls {
                let serverName = origin.host.isIPAddress ? nil : origin.host
                try pipeline.addHandler(NIOSSLClientHandler(context: tls, serverHostname: serverName))
            }
            // Headers are checked once per request in `execute`, not by a handler per write.
            try pipeline.addHTTPClientHandlers(enableOutboundHeaderValidation: false)
            try pipeline.addHandler(UpstreamConnectionHandler(pool: pool, readTimeout: readTimeout, heartbeat: heartbeat))
        }
        // Set by the initializer of a connection through a proxy: when its tunnel is up.
        let tunnel = NIOLockedValueBox<EventLoopFuture<Void>?>(nil)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let proxy = origin.proxy else { return try addUpstreamHandlers(channel) }
                    let handler = ProxyConnectHandler(
                        host: origin.host, port: origin.port, authorization: proxy.authorization, timeout: connectTimeout,
                        eventLoop: channel.eventLoop)
                    tunnel.withLockedValue { $0 = handler.established }
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
        let address = (host: origin.proxy?.host ?? origin.host, port: origin.proxy?.port ?? origin.port)
        do {
            return try await bootstrap.connect(host: address.host, port: address.port).flatMap { channel in
                let ready = tunnel.withLockedValue { $0 }.map { established in
                    established.flatMapThrowing { try addUpstreamHandlers(channel) }
                } ?? channel.eventLoop.makeSucceededVoidFuture()
                return ready.flatMapThrowing {
                    let handler = try channel.pipeline.syncOperations.handler(type: UpstreamConnectionHandler.self)
                    let connection = UpstreamConnection(
                        channel: channel, origin: origin, handler: NIOLoopBound(handler, eventLoop: channel.eventLoop))
                    handler.connection = connection
                    return connection
                }.flatMapErrorThrowing { error in
                    channel.close(promise: nil)
                    throw error
                }
            }.get()
        } catch {
            if Task.isCancelled { throw CancellationError() }
            if let failure = error as? ProxyConnectHandler.Failure { throw UpstreamTransportError.connect("proxy: \(failure)") }
            throw UpstreamTransportError.connect(String(describing: type(of: error)))
        }
    }

    /// One TLS context for every HTTPS upstream: loading the system's trust roots is slow.
    private func sslContext() throws -> NIOSSLContext {
        try tlsContext.withLockedValue { context in
            if let context { return context }
            let made = try NIOSSLContext(configuration: configuration.tls)
            context = made
            return made
        }
    }

    /// Parsed once per distinct URL: a gateway calls a handful of them, over and over.
    private func parse(_ url: String) -> UpstreamURL? {
        if let known = parsedURLs.withLockedValue({ $0[url] }) { return known }
        guard let parsed = UpstreamURL(url) else { return nil }
        parsedURLs.withLockedValue { urls in
            if urls.count >= 1024 { urls.removeAll() }
            urls[url] = parsed
        }
        return parsed
    }
}

/// Where a request goes: the connection's origin, and the head's target and `Host`.
struct UpstreamURL: Sendable, Equatable {
    var origin: UpstreamOrigin
    let pathAndQuery: String
    let hostHeader: String

    init?(_ string: String) {
        guard let components = URLComponents(string: string), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", var host = components.host, !host.isEmpty
        else { return nil }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let tls = scheme == "https"
        let defaultPort = tls ? 443 : 80
        let port = components.port ?? defaultPort
        origin = UpstreamOrigin(tls: tls, host: host, port: port)
        var path = components.percentEncodedPath
        if path.isEmpty { path = "/" }
        if let query = components.percentEncodedQuery { path += "?" + query }
        pathAndQuery = path
        let hostName = host.contains(":") ? "[\(host)]" : host
        hostHeader = port == defaultPort ? hostName : "\(hostName):\(port)"
    }
}

extension HTTPHeaders {
    /// RFC 9110's rules, as NIO's outbound validator applies them: a name is a token, and a value
    /// holds no control character but tab (CR, LF or NUL would let a value forge headers).
    var areSendable: Bool {
        allSatisfy { name, value in
            !name.isEmpty && name.utf8.allSatisfy(\.isHeaderTokenByte) && value.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
        }
    }
}

extension UInt8 {
    /// RFC 9110 `tchar`: a letter, a digit, or one of ``!#$%&'*+-.^_`|~``.
    fileprivate var isHeaderTokenByte: Bool {
        switch self {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
        default: false
        }
    }
}

extension String {
    /// An IPv4 or IPv6 literal, which TLS must not send as the server name.
    fileprivate var isIPAddress: Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, self, &v4) == 1 || inet_pton(AF_INET6, self, &v6) == 1
    }
}
