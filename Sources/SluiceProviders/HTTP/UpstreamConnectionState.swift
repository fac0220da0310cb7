/// The life of one pooled upstream connection, without I/O: which exchange it serves and what
/// each event means. `UpstreamConnectionHandler` feeds it events on the connection's event loop
/// and performs the actions it returns; keeping the rules here lets them be tested alone.
///
/// One exchange at a time (HTTP/1.1 without pipelining): idle, then the request is written and
/// the head awaited, then the body streams, then idle again if the response allows keep-alive.
struct UpstreamConnectionState {
    /// Identifies an exchange, so that late events of a finished one (a consumer that goes away
    /// after the connection was reused, a timer that fired late) cannot touch the next.
    typealias ExchangeID = UInt64

    enum Phase: Equatable {
        case idle
        case awaitingHead(ExchangeID)
        /// `wantsMore`: the body's consumer has room; `readHeld`: a read was withheld for lack of it.
        case streaming(ExchangeID, keepAlive: Bool, wantsMore: Bool, readHeld: Bool)
        case closed
    }

    enum Failure: Error, Equatable {
        /// The connection was closed before the request could be written: nothing was sent, so
        /// another connection may be tried.
        case stale
        /// The connection closed or failed after the request was written.
        case remoteClosed
        case headTimeout
        case readTimeout
    }

    enum Action: Equatable {
        case none
        /// Write the request and start the head timer.
        case writeRequest
        case failRequest(Failure)
        /// Cancel the head timer and hand the head (and the body stream) to the caller.
        case deliverHead
        case yieldBody
        /// Finish the body stream; then either put the connection back in the pool or close it.
        case finishBody(reuse: Bool)
        case failBody(Failure)
        case failRequestAndClose(Failure)
        case failBodyAndClose(Failure)
        case close
        case forwardRead
        /// The connection went away while idle: take it out of the pool.
        case forget
    }

    private(set) var phase: Phase = .idle

    mutating func start(_ id: ExchangeID) -> Action {
        guard case .idle = phase else { return .failRequest(.stale) }
        phase = .awaitingHead(id)
        return .writeRequest
    }

    mutating func head(keepAlive: Bool) -> Action {
        guard case .awaitingHead(let id) = phase else { return closeUnexpected() }
        phase = .streaming(id, keepAlive: keepAlive, wantsMore: true, readHeld: false)
        return .deliverHead
    }

    mutating func bodyPart() -> Action {
        guard case .streaming = phase else { return closeUnexpected() }
        return .yieldBody
    }

    /// The body stream said it has enough for now (`wantsMore == false`).
    mutating func yielded(wantsMore: Bool) {
        guard case .streaming(let id, let keepAlive, _, let readHeld) = phase else { return }
        phase = .streaming(id, keepAlive: keepAlive, wantsMore: wantsMore, readHeld: readHeld)
    }

    mutating func end() -> Action {
        guard case .streaming(_, let keepAlive, _, _) = phase else { return closeUnexpected() }
        phase = keepAlive ? .idle : .closed
        return .finishBody(reuse: keepAlive)
    }

    /// The channel asks to read more: hold it back while the body's consumer has no room.
    mutating func read() -> Action {
        guard case .streaming(let id, let keepAlive, false, _) = phase else { return .forwardRead }
        phase = .streaming(id, keepAlive: keepAlive, wantsMore: false, readHeld: true)
        return .none
    }

    /// The consumer of exchange `id` has room again.
    mutating func demand(_ id: ExchangeID) -> Action {
        guard case .streaming(id, let keepAlive, _, let readHeld) = phase else { return .none }
        phase = .streaming(id, keepAlive: keepAlive, wantsMore: true, readHeld: false)
        return readHeld ? .forwardRead : .none
    }

    /// The consumer of exchange `id` stopped reading before the end: the rest of the body would
    /// block the connection, so it is closed.
    mutating func consumerGone(_ id: ExchangeID) -> Action {
        switch phase {
        case .awaitingHead(id), .streaming(id, _, _, _):
            phase = .closed
            return .close
        default:
            return .none
        }
    }

    mutating func headTimedOut(_ id: ExchangeID) -> Action {
        guard case .awaitingHead(id) = phase else { return .none }
        phase = .closed
        return .failRequestAndClose(.headTimeout)
    }

    /// While the body's consumer has no room, reads are held back, so silence is ours and not the
    /// upstream's: the read timeout does not count it (a slow client, or a loaded machine that has
    /// not scheduled the consumer yet, is not a stuck upstream).
    var readsAreHeld: Bool {
        if case .streaming(_, _, wantsMore: false, _) = phase { return true }
        return false
    }

    /// Nothing was read for the read timeout.
    mutating func readTimedOut() -> Action {
        switch phase {
        case .awaitingHead:
            phase = .closed
            return .failRequestAndClose(.readTimeout)
        case .streaming:
            phase = .closed
            return .failBodyAndClose(.readTimeout)
        case .idle, .closed:
            return .none
        }
    }

    /// The channel closed or failed.
    mutating func closed() -> Action {
        let previous = phase
        phase = .closed
        switch previous {
        case .idle: return .forget
        case .awaitingHead: return .failRequest(.remoteClosed)
        case .streaming: return .failBody(.remoteClosed)
        case .closed: return .none
        }
    }

    /// A response part that no exchange asked for: the connection can no longer be trusted.
    private mutating func closeUnexpected() -> Action {
        let previous = phase
        phase = .closed
        switch previous {
        case .awaitingHead: return .failRequestAndClose(.remoteClosed)
        case .streaming: return .failBodyAndClose(.remoteClosed)
        case .idle, .closed: return .close
        }
    }
}
