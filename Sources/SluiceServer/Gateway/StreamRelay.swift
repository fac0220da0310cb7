import Foundation
import Hummingbird
import NIOCore
import SluiceCore
import SluiceProviders

/// An upstream SSE body and its parser, handed from the handler (which peeks at the first events)
/// to the response writer (which relays the rest).
///
/// `@unchecked Sendable`: the body's iterator is not Sendable. Exactly one task uses this
/// box at a time: the handler until it returns the response, then the response body closure.
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
    static func peek(_ response: UpstreamResponse) async -> Result {
        let stream = UpstreamEventStream(response.body)
        var pending: [ServerSentEvent] = []
        do {
            while let events = try await stream.nextEvents() {
                for event in events {
                    switch ResponseInspection.classify(event.data, needOutputCheck: true) {
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

/// Relays a committed stream to the client, event by event, as reads arrive: each upstream read is
/// written before the next one is awaited, so nothing is held back, and a slow client slows the
/// upstream read instead of growing a buffer.
struct StreamRelay: Sendable {
    let charge: RequestCharge
    let account: AccountPool.Account
    let price: Price?
    let clientWantsUsage: Bool
    let upstream: PeekedStream
    let pool: AccountPool

    static let midStreamError = SSEEncoder.encode(GatewayError.upstreamFailed("The upstream stream failed after it had started. The answer is incomplete.").jsonBody)

    struct Progress {
        var outcome: RequestOutcome
        var sawDone = false
        var upstreamFailed = false
        var finished: Bool { sawDone || upstreamFailed }
    }

    func run(_ writer: inout any ResponseBodyWriter) async {
        var progress = Progress(outcome: RequestOutcome(
            endReason: .completed, status: 200, provider: account.manifest.id, accountID: account.record.id, price: price))
        var clientGone = false
        var out = ByteBuffer()
        var events = upstream.pending
        while true {
            out.clear()
            append(events, to: &out, progress: &progress)
            if out.readableBytes > 0 {
                do { try await writer.write(out) } catch {
                    clientGone = true
                    break
                }
            }
            if progress.finished { break }
            do {
                guard let next = try await upstream.stream.nextEvents() else { break }
                events = next
            } catch {
                progress.upstreamFailed = true
                break
            }
        }
        var tail = ByteBuffer()
        if clientGone {
            progress.outcome.endReason = .clientDisconnect
        } else if progress.sawDone {
            tail.writeBytes(SSEEncoder.done)
        } else {
            // The stream broke after the first byte: no replay, an error event, and no [DONE].
            await pool.recordFailure(account.record.id, FailureAssessment(.transient, .model(charge.model)), resetAt: nil)
            progress.outcome.endReason = .upstreamError
            tail.writeBytes(Self.midStreamError)
        }
        await charge.settle(progress.outcome)
        if !clientGone {
            try? await writer.write(tail)
            try? await writer.finish(nil)
        }
    }

    private func append(_ events: [ServerSentEvent], to out: inout ByteBuffer, progress: inout Progress) {
        for event in events where !progress.finished {
            switch ResponseInspection.classify(event.data, needOutputCheck: false) {
            case .done:
                progress.sawDone = true
            case .error:
                progress.upstreamFailed = true
            case .usage(let usage, let hasChoices):
                progress.outcome.usage = usage
                // OpenAI's usage chunk has empty choices; a client that did not ask never sees one.
                if clientWantsUsage || hasChoices { write(event, to: &out, progress: &progress) }
            case .output, .other:
                write(event, to: &out, progress: &progress)
            }
        }
    }

    private func write(_ event: ServerSentEvent, to out: inout ByteBuffer, progress: inout Progress) {
        if event.data.contains(UInt8(ascii: "\n")) {
            out.writeBytes(SSEEncoder.encode(event.data))
        } else {
            out.writeString("data: ")
            out.writeBytes(event.data)
            out.writeString("\n\n")
        }
        progress.outcome.completionEstimate += 1
        if !progress.outcome.producedOutput {
            progress.outcome.producedOutput = true
            progress.outcome.timeToFirstToken = .now - charge.started
        }
    }
}
