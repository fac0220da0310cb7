import NIOCore
import NIOHTTP1

/// One request to write on a connection, and where its response goes.
struct UpstreamExchange: Sendable {
    let head: HTTPRequestHead
    let body: ByteBuffer?
    let headTimeout: TimeAmount
    let promise: EventLoopPromise<UpstreamResponse>
}

/// The last handler of an upstream connection's pipeline: writes each request in one flush,
/// hands the response head to the waiting caller and streams the body to it, and puts the
/// connection back in the pool when the response allows. `UpstreamConnectionState` decides;
/// this class only performs.
///
/// It keeps the exchange's clock itself: one timer per exchange covers the head timeout, the read
/// timeout (silence between reads) and the heartbeat. NIO's `IdleStateHandler` did the read
/// timeout with a promise and a callback on every write, 3.6 % of the gateway's CPU at 32
/// connections.
///
/// The heartbeat: after `heartbeat` of silence in a body, the consumer gets an empty read, so a
/// relay waiting on a thinking model learns that time passed without a timer of its own (and
/// keeps its client's connection alive).
final class UpstreamConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    /// Where the connection goes when it is idle again, and where it leaves when it closes.
    private let pool: UpstreamConnectionPool
    private let readTimeout: TimeAmount
    private let heartbeat: TimeAmount?
    /// The last read or heartbeat of the body.
    private var lastSign = NIODeadline.now()
    /// Set once the connection is made, cleared when it closes (it refers back to this handler).
    var connection: UpstreamConnection?

    private var state = UpstreamConnectionState()
    private var context: ChannelHandlerContext?
    private var nextExchange: UpstreamConnectionState.ExchangeID = 0
    private var exchange: UpstreamExchange?
    private var timer: Scheduled<Void>?
    /// While the head is awaited: when it is due.
    private var headDeadline: NIODeadline?
    private var lastRead = NIODeadline.uptimeNanoseconds(0)
    private var body: (source: UpstreamBody.Producer.Source, ended: ExchangeEnd)?

    init(pool: UpstreamConnectionPool, readTimeout: TimeAmount, heartbeat: TimeAmount?) {
        self.pool = pool
        self.readTimeout = readTimeout
        self.heartbeat = heartbeat
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    // MARK: Events from the caller and the body's consumer (on the event loop)

    func start(_ exchange: UpstreamExchange) {
        nextExchange += 1
        self.exchange = exchange
        perform(state.start(nextExchange))
    }

    func demand(_ id: UpstreamConnectionState.ExchangeID) {
        let action = state.demand(id)
        // Reads resume: the upstream's silence is counted from now, not from before the pause.
        if action == .forwardRead { lastRead = .now() }
        perform(action)
    }
    func consumerGone(_ id: UpstreamConnectionState.ExchangeID) { perform(state.consumerGone(id)) }

    // MARK: Channel events

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastRead = .now()
        switch unwrapInboundIn(data) {
        case .head(let head): perform(state.head(keepAlive: head.isKeepAlive), head: head)
        case .body(let part): perform(state.bodyPart(), part: part)
        case .end: perform(state.end())
        }
    }

    func read(context: ChannelHandlerContext) { perform(state.read()) }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        perform(state.closed())
        connection = nil
        context.fireChannelInactive()
    }

    // MARK: Actions

    private func perform(_ action: UpstreamConnectionState.Action, head: HTTPResponseHead? = nil, part: ByteBuffer? = nil) {
        switch action {
        case .none:
            break
        case .writeRequest:
            writeRequest()
        case .failRequest(let failure):
            failRequest(failure)
        case .failRequestAndClose(let failure):
            failRequest(failure)
            context?.close(promise: nil)
        case .deliverHead:
            if let head { deliver(head) }
        case .yieldBody:
            guard let part, let source = body?.source else { return }
            state.yielded(wantsMore: source.yield(part) == .produceMore)
        case .finishBody(let reuse):
            // Back in the pool before the consumer learns of the end, so that its next request
            // finds this connection instead of opening another.
            if reuse, let connection { pool.release(connection) } else { context?.close(promise: nil) }
            finishBody(nil)
        case .failBody(let failure):
            finishBody(failure)
        case .failBodyAndClose(let failure):
            finishBody(failure)
            context?.close(promise: nil)
        case .close:
            context?.close(promise: nil)
        case .forwardRead:
            context?.read()
        case .forget:
            if let connection { pool.forget(connection) }
        }
    }

    private func writeRequest() {
        guard let context, let exchange else { return }
        // Head, body and end go out in one flush: one write system call for the whole request.
        context.write(wrapOutboundOut(.head(exchange.head)), promise: nil)
        if let body = exchange.body { context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        let now = NIODeadline.now()
        lastRead = now
        headDeadline = now + exchange.headTimeout
        lastSign = now
        armTimer(at: min(now + exchange.headTimeout, now + min(readTimeout, heartbeat ?? readTimeout)), exchange: nextExchange)
    }

    private func armTimer(at deadline: NIODeadline, exchange id: UpstreamConnectionState.ExchangeID) {
        timer = context?.eventLoop.assumeIsolated().scheduleTask(deadline: deadline) { [self] in timerFired(id) }
    }

    /// Rather than re-arm at every read, the timer looks at the time of the last read when it
    /// fires, and sleeps again until the earliest deadline still open.
    private func timerFired(_ id: UpstreamConnectionState.ExchangeID) {
        timer = nil
        guard id == nextExchange else { return }
        let now = NIODeadline.now()
        if let headDeadline, now >= headDeadline { return perform(state.headTimedOut(id)) }
        // Silence from the upstream since the request was written, or since its last read.
        if now >= lastRead + readTimeout {
            guard state.readsAreHeld else { return perform(state.readTimedOut()) }
            lastRead = now
        }
        var next = min(headDeadline ?? .distantFuture, lastRead + readTimeout)
        if let heartbeat {
            lastSign = max(lastSign, lastRead)
            if now >= lastSign + heartbeat, let source = body?.source {
                // An empty read carries no bytes; its backpressure answer is the same as the last.
                _ = source.yield(ByteBuffer())
                lastSign = now
            }
            next = min(next, max(lastSign + heartbeat, now + .milliseconds(1)))
        }
        armTimer(at: next, exchange: id)
    }

    private func stopTimer() {
        timer?.cancel()
        timer = nil
        headDeadline = nil
    }

    private func failRequest(_ failure: UpstreamConnectionState.Failure) {
        stopTimer()
        exchange?.promise.fail(failure)
        exchange = nil
    }

    private func deliver(_ head: HTTPResponseHead) {
        // The timer stays: from now on it watches for silence in the body.
        headDeadline = nil
        guard let exchange else { return }
        self.exchange = nil
        guard let connection else { return exchange.promise.fail(UpstreamConnectionState.Failure.remoteClosed) }
        let ended = ExchangeEnd()
        let sequence = UpstreamBody.Producer.makeSequence(
            elementType: ByteBuffer.self, failureType: (any Error).self,
            backPressureStrategy: .init(lowWatermark: 2, highWatermark: 8), finishOnDeinit: false,
            delegate: UpstreamBody.Delegate(connection: connection, exchange: nextExchange, ended: ended))
        body = (sequence.source, ended)
        exchange.promise.succeed(
            UpstreamResponse(status: Int(head.status.code), headers: head.headers, body: UpstreamBody(producer: sequence.sequence)))
    }

    private func finishBody(_ failure: UpstreamConnectionState.Failure?) {
        stopTimer()
        guard let (source, ended) = body else { return }
        body = nil
        if let failure {
            source.finish(failure)
        } else {
            ended.value.store(true, ordering: .releasing)
            source.finish()
        }
    }
}
