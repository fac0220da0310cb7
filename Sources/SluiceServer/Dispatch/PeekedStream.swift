import Foundation
import NIOCore
import SluiceCore
import SluiceProviders

/// An upstream SSE body, its parser and the adapter's translator, handed from the dispatcher
/// (which peeks at the first events) to the relay (which writes the rest).
///
/// `@unchecked Sendable`: the body's iterator is not Sendable. Exactly one task uses this
/// box at a time: the dispatcher and the handler until it returns the response, then the
/// response body closure.
final class UpstreamEventStream: @unchecked Sendable {
    var iterator: UpstreamBody.AsyncIterator
    var parser = SSEParser()
    var translator: any StreamTranslator
    /// True until the first output: the translator then tells output apart from the rest.
    var needOutputCheck = true
    /// The body has ended and the translator has had its last word.
    private var ended = false

    init(_ body: UpstreamBody, translator: any StreamTranslator) {
        iterator = body.makeAsyncIterator()
        self.translator = translator
    }

    /// The client's events for the next read, `[]` for a read that completed none, nil at the
    /// end of the body.
    func nextEvents() async throws -> [RelayedEvent]? {
        var relayed: [RelayedEvent] = []
        guard let buffer = try await iterator.next() else {
            guard !ended else { return nil }
            ended = true
            translator.finish { relayed.append($0) }
            return relayed.isEmpty ? nil : relayed
        }
        for event in try parser.feed(buffer.readableBytesView) {
            translator.translate(event, needOutputCheck: needOutputCheck) { relayed.append($0) }
        }
        return relayed
    }
}

/// A streaming upstream that has shown it works: its first output (or its end) has arrived.
struct PeekedStream: Sendable {
    let stream: UpstreamEventStream
    let pending: [RelayedEvent]

    enum Result: Sendable {
        case ready(PeekedStream)
        /// An in-band error, a broken body or an empty stream before any output: try another account.
        case failed
    }

    /// Reads events until one carries output, so an in-band error before the first content delta
    /// can still fail over. Nothing has been sent to the client yet.
    static func peek(_ response: UpstreamResponse, translator: any StreamTranslator) async -> Result {
        let stream = UpstreamEventStream(response.body, translator: translator)
        var pending: [RelayedEvent] = []
        do {
            while let events = try await stream.nextEvents() {
                for (index, event) in events.enumerated() {
                    switch event.kind {
                    case .error: return .failed
                    case .other: pending.append(event)
                    case .output, .usage, .done:
                        // The rest of this read goes too: one read often carries several chunks.
                        pending.append(contentsOf: events[index...])
                        stream.needOutputCheck = false
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
