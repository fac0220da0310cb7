import Testing
@testable import SluiceProviders

@Suite struct UpstreamConnectionStateTests {
    typealias State = UpstreamConnectionState

    /// A connection with exchange 1 written and its head delivered.
    func streaming(keepAlive: Bool = true) -> State {
        var state = State()
        _ = state.start(1)
        _ = state.head(keepAlive: keepAlive)
        return state
    }

    @Test func anExchangeRunsAndTheConnectionGoesBackToThePool() {
        var state = State()
        #expect(state.start(1) == .writeRequest)
        #expect(state.read() == .forwardRead)
        #expect(state.head(keepAlive: true) == .deliverHead)
        #expect(state.bodyPart() == .yieldBody)
        #expect(state.end() == .finishBody(reuse: true))
        #expect(state.phase == .idle)
        #expect(state.start(2) == .writeRequest)
    }

    @Test func aResponseWithoutKeepAliveClosesTheConnection() {
        var state = streaming(keepAlive: false)
        #expect(state.end() == .finishBody(reuse: false))
        #expect(state.phase == .closed)
        #expect(state.closed() == .none)
    }

    @Test func aClosedConnectionRefusesARequestBeforeWritingIt() {
        var state = State()
        #expect(state.closed() == .forget)
        #expect(state.start(1) == .failRequest(.stale))
    }

    @Test func aSlowConsumerHoldsReadsUntilItAsksForMore() {
        var state = streaming()
        state.yielded(wantsMore: false)
        #expect(state.read() == .none)
        #expect(state.demand(2) == .none, "another exchange's demand changes nothing")
        #expect(state.demand(1) == .forwardRead)
        #expect(state.read() == .forwardRead)
        #expect(state.demand(1) == .none, "no read was held this time")
    }

    @Test func aConsumerThatLeavesEarlyClosesTheConnection() {
        var state = streaming()
        #expect(state.consumerGone(1) == .close)
        #expect(state.phase == .closed)
    }

    @Test func aConsumerThatLeavesAfterTheEndDoesNotTouchTheNextExchange() {
        var state = streaming()
        _ = state.end()
        _ = state.start(2)
        #expect(state.consumerGone(1) == .none)
        #expect(state.headTimedOut(1) == .none, "a late timer of the last exchange")
        #expect(state.phase == .awaitingHead(2))
    }

    @Test func timeouts() {
        var awaiting = State()
        _ = awaiting.start(1)
        #expect(awaiting.headTimedOut(1) == .failRequestAndClose(.headTimeout))
        var silent = State()
        _ = silent.start(1)
        #expect(silent.readTimedOut() == .failRequestAndClose(.readTimeout))
        var stalled = streaming()
        #expect(stalled.readTimedOut() == .failBodyAndClose(.readTimeout))
        var idle = State()
        #expect(idle.readTimedOut() == .none, "an idle pooled connection is aged out by the pool")
    }

    /// Reads held for a consumer without room are not the upstream's silence.
    @Test func aConsumerWithoutRoomIsNotAStuckUpstream() {
        var state = streaming()
        #expect(!state.readsAreHeld)
        state.yielded(wantsMore: false)
        _ = state.read()
        #expect(state.readsAreHeld)
        #expect(state.demand(1) == .forwardRead)
        #expect(!state.readsAreHeld, "once it has room, silence counts again")
    }

    @Test func aCloseMidExchangeFailsWhatIsWaiting() {
        var awaiting = State()
        _ = awaiting.start(1)
        #expect(awaiting.closed() == .failRequest(.remoteClosed))
        var body = streaming()
        #expect(body.closed() == .failBody(.remoteClosed))
    }

    @Test func aResponseNobodyAskedForClosesTheConnection() {
        var idle = State()
        #expect(idle.head(keepAlive: true) == .close)
        var awaiting = State()
        _ = awaiting.start(1)
        #expect(awaiting.bodyPart() == .failRequestAndClose(.remoteClosed))
        #expect(awaiting.phase == .closed)
    }
}
