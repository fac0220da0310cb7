import NIOCore
import Synchronization

/// The body of an upstream response, as its reads arrive.
///
/// Backpressure reaches the socket: when the consumer falls behind, the connection stops
/// reading. A consumer that stops before the end closes the connection, whose remaining body
/// would otherwise block it.
public struct UpstreamBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    typealias Producer = NIOThrowingAsyncSequenceProducer<
        ByteBuffer, any Error, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, Delegate
    >

    let producer: Producer

    public struct AsyncIterator: AsyncIteratorProtocol {
        var base: Producer.AsyncIterator
        public mutating func next() async throws -> ByteBuffer? { try await base.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: producer.makeAsyncIterator()) }

    /// The whole body, or `UpstreamBodyTooLarge` past `maxBytes`.
    public func collect(upTo maxBytes: Int) async throws -> ByteBuffer {
        var iterator = makeAsyncIterator()
        guard var collected = try await iterator.next() else { return ByteBuffer() }
        while var part = try await iterator.next() {
            guard collected.readableBytes + part.readableBytes <= maxBytes else { throw UpstreamBodyTooLarge(limit: maxBytes) }
            collected.writeBuffer(&part)
        }
        guard collected.readableBytes <= maxBytes else { throw UpstreamBodyTooLarge(limit: maxBytes) }
        return collected
    }

    /// Tells the connection about the consumer: room for more, or gone.
    struct Delegate: NIOAsyncSequenceProducerDelegate {
        let connection: UpstreamConnection
        let exchange: UpstreamConnectionState.ExchangeID
        let ended: ExchangeEnd

        func produceMore() {
            connection.onEventLoop { $0.demand(exchange) }
        }

        func didTerminate() {
            // The usual case: the whole body arrived and was read. The connection may already be
            // serving another exchange, and needs no wake-up to be told.
            guard !ended.value.load(ordering: .acquiring) else { return }
            connection.onEventLoop { $0.consumerGone(exchange) }
        }
    }
}

/// Set by the connection when its exchange's body has fully arrived.
final class ExchangeEnd: Sendable {
    let value = Atomic<Bool>(false)
}

/// The upstream's body was longer than the caller allows.
public struct UpstreamBodyTooLarge: Error, Sendable {
    public let limit: Int
}
