import Foundation
import Hummingbird
import NIOCore
import SluiceCore
import SluiceProviders

/// Relays a committed stream to the client, event by event, as reads arrive: each upstream read is
/// written before the next one is awaited, so nothing is held back, and a slow client slows the
/// upstream read instead of growing a buffer.
struct StreamRelay: Sendable {
    let charge: RequestCharge
    let attempt: UpstreamAttempt
    let price: Price?
    let clientWantsUsage: Bool
    let upstream: PeekedStream

    static let midStreamError = SSEEncoder.encode(GatewayError.upstreamFailed("The upstream stream failed after it had started. The answer is incomplete.").jsonBody)

    struct Progress {
        var outcome: RequestOutcome
        var sawDone = false
        var upstreamFailed = false
        var finished: Bool { sawDone || upstreamFailed }
    }

    func run(_ writer: inout any ResponseBodyWriter) async {
        var progress = Progress(outcome: RequestOutcome(
            endReason: .completed, status: 200, provider: attempt.account.manifest.id, accountID: attempt.account.record.id,
            servedModel: attempt.model, price: price))
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
            await attempt.streamBroke()
            progress.outcome.endReason = .upstreamError
            tail.writeBytes(Self.midStreamError)
        }
        await charge.settle(progress.outcome)
        if !clientGone {
            try? await writer.write(tail)
            try? await writer.finish(nil)
        }
    }

    private func append(_ events: [RelayedEvent], to out: inout ByteBuffer, progress: inout Progress) {
        for relayed in events where !progress.finished {
            let event = relayed.event
            switch relayed.kind {
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
