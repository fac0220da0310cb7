import Foundation
import NIOCore
import SluiceCore
import SluiceProviders

/// An upstream SSE body and its parser, handed from the dispatcher (which peeks at the first
/// events) to the relay (which writes the rest).
///
/// `@unchecked Sendable`: the body's iterator is not Sendable. Exactly one task uses this
/// box at a time: the dispatcher and the handler until it returns the response, then the
/// response body closure.
final class UpstreamEventStream: @unchecked Sendable {
    var iterator: UpstreamBody.AsyncIterator
    var parser = SSEParser()

    init(_ body: UpstreamBody) { iterator = body.makeAsyncIterator() }

    /// The next events, `[]` for a read that completed none, nil at the end of the body.
    func nextEvents() async throws -> [ServerSentEvent]? {
        guard let buffer = try await iterator.next() else { return nil }
        return try parser.feed(buffer.readableBytesView)
    }
}

/// A streaming upstream that has shown it works: its first output (or its end) has arrived.
struct PeekedStream: Sendable {
    let stream: UpstreamEventStream
    let pending: [ServerSentEvent]

    enum Result: Sendable {
        case ready(PeekedStream)
        /// An in-band error, a broken body or an empty stream before any output: try another account.
        case failed
    }

    /// Reads events until one carries output, so an in-band error before the first content delta
    /// can still fail over. Nothing has been sent to the client yet.
    static func peek(_ response: UpstreamResponse, adapter: any ProviderAdapter) async -> Result {
        let stream = UpstreamEventStream(response.body)
        var pending: [ServerSentEvent] = []
        do {
            while let events = try await stream.nextEvents() {
                for event in events {
                    switch adapter.readEvent(event, needOutputCheck: true) {
                    case .error: return .failed
                    case .other: pending.append(event)
                    case .output, .usage, .done:
                        pending.append(event)
                        return .ready(PeekedStream(stream: stream, pending: pending))
                    }
                }
                // A provider that sends many empty chunks before output is still a working provider.
                if pending.count >= 32 { return .ready(PeekedStream(stream: stream, pending: pending)) }
            }
        } catch {
            return .failed
        }
        return .failed
    }
}
