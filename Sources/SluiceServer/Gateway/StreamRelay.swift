import Foundation
import Hummingbird
import NIOCore
import SluiceCore
import ServiceLifecycle
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
    /// client that read the end asks to continue it. Nil when nothing is kept.
    let completed: (@Sendable (any ClientStreamWriter) async -> Void)?
    let limits: StreamLimits

    struct Progress {
        var outcome: RequestOutcome
        var writer: any ClientStreamWriter
        var sawDone = false
        var upstreamFailed = false
        var finished: Bool { sawDone || upstreamFailed }
    }

    /// How a relayed stream ended.
    struct Ending {
        /// The upstream ended it well and the client was there to read the end.
        var completed: Bool
        /// The writer, with whatever it gathered along the way.
        var writer: any ClientStreamWriter
        /// What the request was charged, when this relay settled it.
        var settled: SettledCharge?
    }

    @discardableResult
    func run(_ bodyWriter: inout any ResponseBodyWriter) async -> Ending {
        // The handler runs in the server's task, so it hears the server's graceful shutdown.
        await withGracefulShutdownHandler {
            await relay(&bodyWriter)
        } onGracefulShutdown: { [drain = limits.drain] in
            drain?.begin()
        }
    }

    private func relay(_ bodyWriter: inout any ResponseBodyWriter) async -> Ending {
        var progress = Progress(outcome: outcome, writer: writer)
        var clientGone = false
        var overLimit = false
        var shutDown = false
        var out = ByteBuffer()
        var tail = ByteBuffer()
        var events = upstream.pending
        var written = 0
        var lastWrite = ContinuousClock.now
        while true {
            out.clear()
            append(events, to: &out, progress: &progress)
            charge.progressed(progress.outcome)
            if progress.sawDone {
                // The last events go with the end, once the answer is kept.
                tail = out
                break
            }
            if out.readableBytes == 0, let keepalive = limits.keepalive, ContinuousClock.now - lastWrite >= keepalive {
                // The upstream is silent (the client's heartbeat read, see UpstreamConnectionHandler):
                // a comment, which every SSE client ignores, keeps proxies from cutting the stream.
                out.writeStaticString(": keepalive\n\n")
            }
            if out.readableBytes > 0 {
                written += out.readableBytes
                lastWrite = .now
                do { try await bodyWriter.write(out) } catch {
                    clientGone = true
                    break
                }
            }
            if progress.finished { break }
            if limits.exceeded(bytes: written, since: charge.started) {
                overLimit = true
                break
            }
            if limits.drain?.expired == true {
                shutDown = true
                break
            }
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
        } else if overLimit || shutDown {
            progress.outcome.endReason = overLimit ? .streamLimit : .serverShutdown
            progress.writer.fail(to: &tail)
        } else if progress.sawDone {
            progress.writer.finish(to: &tail)
            await completed?(progress.writer)
        } else {
            // The stream broke after the first byte: no replay, an error event, and no end.
            await attempt.streamBroke()
            progress.outcome.endReason = .upstreamError
            progress.writer.fail(to: &tail)
        }
        let settled = await charge.settle(progress.outcome)
        if !clientGone {
            try? await bodyWriter.write(tail)
            try? await bodyWriter.finish(nil)
        }
        return Ending(completed: progress.sawDone && !clientGone, writer: progress.writer, settled: settled)
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

/// What one relayed stream may take: `server.sse_keepalive_seconds`, `server.max_stream_seconds`
/// and `server.max_stream_bytes`.
struct StreamLimits: Sendable {
    /// A comment goes to the client after this much silence; nil: never.
    var keepalive: Duration?
    var maxDuration: Duration?
    var maxBytes: Int?
    /// Ends streams that outlive the grace period after SIGTERM; nil: streams run to their end.
    var drain: Drain? = nil

    func exceeded(bytes: Int, since start: ContinuousClock.Instant) -> Bool {
        if let maxBytes, bytes > maxBytes { return true }
        if let maxDuration, ContinuousClock.now - start > maxDuration { return true }
        return false
    }
}
