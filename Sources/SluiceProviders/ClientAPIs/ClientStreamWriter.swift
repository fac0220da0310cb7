import Foundation
import NIOCore
import SluiceCore

/// Writes a committed stream in the client's protocol. The relay hands it each event the
/// upstream's translator let through (output, usage and anything else, in order), then exactly
/// one of `finish` (the upstream ended the stream) or `fail` (it broke after the first byte).
///
/// The events are OpenAI chunks, or the client's own protocol when its request was passed
/// through to an account that speaks it; each writer knows which it gets.
public protocol ClientStreamWriter: Sendable {
    /// Appends what the client reads for `event`. Returns whether that was output the client can
    /// see, for the completion estimate and the time to first token.
    mutating func write(_ event: RelayedEvent, to out: inout ByteBuffer) -> Bool
    mutating func finish(to out: inout ByteBuffer)
    mutating func fail(to out: inout ByteBuffer)
}

extension ByteBuffer {
    /// One server-sent event, with its `event:` line when it has a name.
    mutating func writeEvent(_ event: ServerSentEvent) {
        if let name = event.event {
            writeString("event: ")
            writeString(name)
            writeString("\n")
        }
        if event.data.contains(UInt8(ascii: "\n")) {
            writeBytes(SSEEncoder.encode(event.data))
        } else {
            writeString("data: ")
            writeBytes(event.data)
            writeString("\n\n")
        }
    }
}

/// OpenAI's chat stream, as `/v1/chat/completions` clients read it: chunks as they came, the
/// usage chunk only to a client that asked for it, `[DONE]` at the end, and an error event with
/// no `[DONE]` after a break.
public struct ChatChunkWriter: ClientStreamWriter {
    static let midStreamError = SSEEncoder.encode(
        GatewayError.upstreamFailed("The upstream stream failed after it had started. The answer is incomplete.").jsonBody)

    let clientWantsUsage: Bool

    public init(clientWantsUsage: Bool) { self.clientWantsUsage = clientWantsUsage }

    public mutating func write(_ event: RelayedEvent, to out: inout ByteBuffer) -> Bool {
        // OpenAI's usage chunk has empty choices; a client that did not ask never sees one.
        if case .usage(_, let hasChoices) = event.kind, !clientWantsUsage, !hasChoices { return false }
        out.writeEvent(event.event)
        return true
    }

    public mutating func finish(to out: inout ByteBuffer) { out.writeBytes(SSEEncoder.done) }

    public mutating func fail(to out: inout ByteBuffer) { out.writeBytes(Self.midStreamError) }
}
