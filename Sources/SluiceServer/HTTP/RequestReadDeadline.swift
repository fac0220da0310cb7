import NIOCore
import NIOHTTPTypes

/// Closes a connection whose client takes longer than `limit` to send one request, from its head
/// to its end: a client that trickles its body (slowloris) would otherwise hold a connection and a
/// request's memory for as long as it likes. Hummingbird's idle timeout covers the rest: a head
/// that never completes, and silence between requests.
///
/// Most requests arrive whole in one read; those cost no timer. Only a request whose end did not
/// come with its head's read gets one, cancelled by the end.
final class RequestReadDeadline: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart

    private let limit: TimeAmount
    /// A head was read and its end has not been.
    private var reading = false
    private var deadline: Scheduled<Void>?

    init(limit: TimeAmount) { self.limit = limit }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: reading = true
        case .body: break
        case .end:
            reading = false
            deadline?.cancel()
            deadline = nil
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if reading, deadline == nil {
            let channel = context.channel
            deadline = context.eventLoop.assumeIsolated().scheduleTask(in: limit) { channel.close(promise: nil) }
        }
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }
}
