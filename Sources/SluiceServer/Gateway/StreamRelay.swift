import Foundation
import Hummingbird
import NIOCore
import SluiceCore
import SluiceProviders

/// Relays a committed stream to the client, event by event, as reads arrive: each upstream read is
/// written before the next one is awaited, so nothing is held back, and a slow client slows the
/// upstream read instead of growing a buffer. `writer` puts each event in the client's protocol.
struct StreamRelay: Sendable {
    let charge: RequestCharge
    let attempt: UpstreamAttempt
    /// How the request ends if nothing goes wrong: the account, the price, the served model.
    let outcome: RequestOutcome
    let upstream: PeekedStream
    let writer: any ClientStreamWriter
    /// Called with the writer when the upstream ended the stream well, before its end reaches
    /// the client: what is kept of the answer (a Responses conversation) is kept by the time a
    /// client that read the end asks to continue it.
    let completed: @Sendable (any ClientStreamWriter) async -> Void

    struct Progress {
        var outcome: RequestOutcome
        var writer: any ClientStreamWriter
        var sawDone = false
        var upstreamFailed = false
        var finished: Bool { sawDone || upstreamFailed }
    }

    func run(_ bodyWriter: inout any ResponseBodyWriter) async {
        var progress = Progress(outcome: outcome, writer: writer)
        var clientGone = false
        var out = ByteBuffer()
        var tail = ByteBuffer()
        var events = upstream.pending
        while true {
            out.clear()
            append(events, to: &out, progress: &progress)
            if progress.sawDone {
                // The last events go with the end, once the answer is kept.
                tail = out
                break
            }
            if out.readableBytes > 0 {
                do { try await bodyWriter.write(out) } catch {
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
        if clientGone {
            progress.outcome.endReason = .clientDisconnect
        } else if progress.sawDone {
            progress.writer.finish(to: &tail)
            await completed(progress.writer)
        } else {
            // The stream broke after the first byte: no replay, an error event, and no end.
            await attempt.streamBroke()
            progress.outcome.endReason = .upstreamError
            progress.writer.fail(to: &tail)
        }
        await charge.settle(progress.outcome)
        if !clientGone {
            try? await bodyWriter.write(tail)
            try? await bodyWriter.finish(nil)
        }
    }

    private func append(_ events: [RelayedEvent], to out: inout ByteBuffer, progress: inout Progress) {
        for relayed in events where !progress.finished {
            switch relayed.kind {
            case .done:
                progress.sawDone = true
                continue
            case .error:
                progress.upstreamFailed = true
                continue
            case .usage(let usage, _):
                progress.outcome.usage = usage
            case .output, .other:
                break
            }
            guard progress.writer.write(relayed, to: &out) else { continue }
            progress.outcome.completionEstimate += 1
            if !progress.outcome.producedOutput {
                progress.outcome.producedOutput = true
                progress.outcome.timeToFirstToken = .now - charge.started
            }
        }
    }
}
