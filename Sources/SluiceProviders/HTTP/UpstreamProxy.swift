import Foundation
import NIOCore

/// An HTTP proxy that an account's calls tunnel through with `CONNECT`: pooled subscription
/// accounts are often pinned to one egress address. There is no fallback: when the proxy cannot
/// be reached or refuses, the call fails like any connect error, and the request fails over to
/// another account. It never goes out directly.
public struct UpstreamProxy: Sendable, Hashable {
    public var host: String
    public var port: Int
    /// `Proxy-Authorization`, from the URL's user and password.
    var authorization: String?

    /// Why a proxy URL cannot be used, in words for the account's owner.
    public struct Invalid: Error, Equatable, CustomStringConvertible {
        public var description: String
    }

    /// Parses `http://[user:password@]host:port`. Only plain HTTP proxies: the tunnel then
    /// carries TLS to the upstream end to end.
    public init(url: String) throws(Invalid) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
            throw Invalid(description: "The proxy must be a URL such as http://user:password@proxy.example:3128.")
        }
        guard scheme == "http" else { throw Invalid(description: "The proxy URL must start with http:// (an HTTP CONNECT proxy).") }
        guard var host = components.host, !host.isEmpty else { throw Invalid(description: "The proxy URL names no host.") }
        guard let port = components.port, (1...65535).contains(port) else { throw Invalid(description: "The proxy URL must name its port.") }
        guard components.path.isEmpty || components.path == "/", components.query == nil, components.fragment == nil else {
            throw Invalid(description: "The proxy URL has no path or query: only http://[user:password@]host:port.")
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        self.host = host
        self.port = port
        if let user = components.user {
            let credentials = user + ":" + (components.password ?? "")
            authorization = "Basic " + Data(credentials.removingPercentEncoding?.utf8 ?? credentials.utf8).base64EncodedString()
        }
    }

    /// Where the proxy is, without its credentials: what views and logs may show.
    public var address: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// The first handler on a connection to a proxy: sends `CONNECT host:port`, reads the proxy's
/// answer, and on a 2xx removes itself, leaving a tunnel to the upstream for TLS and HTTP to be
/// added on. Anything else fails `established` and closes the channel.
final class ProxyConnectHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Failure: Error, Equatable {
        /// The proxy answered the CONNECT with this status.
        case refused(status: Int)
        /// The proxy's answer was not an HTTP response, or too long.
        case malformed
        /// The proxy closed the connection before answering.
        case closed
        case timeout
    }

    /// A proxy's answer head is a few hundred bytes; more is not a proxy.
    static let maxHeadBytes = 16 << 10

    private let target: String
    private let authorization: String?
    private let timeout: TimeAmount
    private var received = ByteBuffer()
    private var timer: Scheduled<Void>?
    private var finished = false
    private let promise: EventLoopPromise<Void>
    var established: EventLoopFuture<Void> { promise.futureResult }

    init(host: String, port: Int, authorization: String?, timeout: TimeAmount, eventLoop: any EventLoop) {
        target = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        self.authorization = authorization
        self.timeout = timeout
        promise = eventLoop.makePromise()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { sendConnect(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        sendConnect(context)
        context.fireChannelActive()
    }

    private func sendConnect(_ context: ChannelHandlerContext) {
        guard timer == nil else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: timeout) { loopBound.value.0.fail(Failure.timeout, loopBound.value.1) }
        var head = "CONNECT \(target) HTTP/1.1\r\nHost: \(target)\r\n"
        if let authorization { head += "Proxy-Authorization: \(authorization)\r\n" }
        head += "\r\n"
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: head)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        received.writeBuffer(&bytes)
        let view = received.readableBytesView
        guard let end = view.firstRange(of: [0x0D, 0x0A, 0x0D, 0x0A]) else {
            if received.readableBytes > Self.maxHeadBytes { fail(Failure.malformed, context) }
            return
        }
        // The upstream speaks only after the client (TLS or HTTP), so nothing may follow the head.
        guard end.upperBound == view.endIndex, let status = Self.status(of: String(decoding: view[..<end.lowerBound], as: UTF8.self)) else {
            return fail(Failure.malformed, context)
        }
        guard (200..<300).contains(status) else { return fail(Failure.refused(status: status), context) }
        timer?.cancel()
        finished = true
        context.pipeline.syncOperations.removeHandler(self, promise: nil)
        promise.succeed()
    }

    /// A connection that never came up (the proxy is down) is torn down without going inactive.
    func handlerRemoved(context: ChannelHandlerContext) {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        promise.fail(Failure.closed)
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(Failure.closed, context)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error, context)
    }

    private func fail(_ error: any Error, _ context: ChannelHandlerContext) {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        promise.fail(error)
        context.close(promise: nil)
    }

    /// The status code of `HTTP/1.x NNN reason`.
    static func status(of head: String) -> Int? {
        let statusLine = head.split(separator: "\r\n", maxSplits: 1).first ?? ""
        let parts = statusLine.split(separator: " ", maxSplits: 2)
        guard parts.count >= 2, parts[0].hasPrefix("HTTP/1."), parts[1].count == 3 else { return nil }
        return Int(parts[1])
    }
}
