import Foundation
import NIOCore
import SluiceCore

/// A Messages stream passed through from an Anthropic account: each event as it came, names
/// and all. The upstream's `message_stop` is the relay's end (`finish` writes it), its `error`
/// the relay's break.
public struct MessagesPassThroughWriter: ClientStreamWriter {
    static let messageStop = ServerSentEvent(event: "message_stop", data: Data(#"{"type":"message_stop"}"#.utf8))

    public init() {}

    public mutating func write(_ event: RelayedEvent, to out: inout ByteBuffer) -> Bool {
        out.writeEvent(event.event)
        return event.kind == .output
    }

    public mutating func finish(to out: inout ByteBuffer) { out.writeEvent(Self.messageStop) }

    public mutating func fail(to out: inout ByteBuffer) { out.writeEvent(MessagesErrors.midStreamError) }
}

/// OpenAI chunks as Anthropic's stream events, for a Messages client served by an account
/// that does not speak Messages: `message_start` first, then a `content_block_start`, deltas
/// and `content_block_stop` per text, thinking or tool-use block (one tool call, one block, its
/// arguments as `input_json_delta`), and at the end `message_delta` with the stop reason and
/// usage, then `message_stop`. Usage comes last in OpenAI's stream, so it is held until the end.
public struct MessagesStreamWriter: ClientStreamWriter {
    private enum Block: Equatable {
        case text
        case thinking
        /// A tool use, by the OpenAI `tool_calls` index it continues.
        case tool(callIndex: Int)
    }

    private let model: String
    private var started = false
    /// The block being written, and its index.
    private var open: (block: Block, index: Int)?
    private var nextIndex = 0
    private var stopReason: String?
    private var usage: TokenUsage?

    public init(model: String) { self.model = model }

    public mutating func write(_ event: RelayedEvent, to out: inout ByteBuffer) -> Bool {
        guard let chunk = (try? JSONSerialization.jsonObject(with: event.event.data)) as? [String: Any] else { return false }
        if !started { start(chunk, to: &out) }
        if case .usage(let reported, _) = event.kind { usage = reported }
        var wroteOutput = false
        for choice in chunk["choices"] as? [[String: Any]] ?? [] {
            let delta = choice["delta"] as? [String: Any] ?? [:]
            if let thinking = delta["reasoning_content"] as? String, !thinking.isEmpty {
                open(.thinking, to: &out) { ["type": "thinking", "thinking": "", "signature": ""] }
                emit("content_block_delta", ["index": nextIndex - 1, "delta": ["type": "thinking_delta", "thinking": thinking]], to: &out)
                wroteOutput = true
            }
            if let text = delta["content"] as? String, !text.isEmpty {
                open(.text, to: &out) { ["type": "text", "text": ""] }
                emit("content_block_delta", ["index": nextIndex - 1, "delta": ["type": "text_delta", "text": text]], to: &out)
                wroteOutput = true
            }
            for call in delta["tool_calls"] as? [[String: Any]] ?? [] {
                let callIndex = call["index"] as? Int ?? 0
                let function = call["function"] as? [String: Any]
                open(.tool(callIndex: callIndex), to: &out) {
                    ["type": "tool_use", "id": call["id"] as? String ?? "", "name": function?["name"] as? String ?? "", "input": [String: Any]()]
                }
                if let arguments = function?["arguments"] as? String, !arguments.isEmpty {
                    emit("content_block_delta", ["index": nextIndex - 1, "delta": ["type": "input_json_delta", "partial_json": arguments]], to: &out)
                }
                wroteOutput = true
            }
            if let finish = choice["finish_reason"] as? String {
                stopReason = MessagesFromChat.stopReason(finish)
                close(to: &out)
            }
        }
        return wroteOutput
    }

    public mutating func finish(to out: inout ByteBuffer) {
        if !started { start([:], to: &out) }
        close(to: &out)
        let usage = MessagesFromChat.usage(usage ?? TokenUsage(promptTokens: 0, completionTokens: 0))
        emit("message_delta", ["delta": ["stop_reason": stopReason ?? "end_turn", "stop_sequence": NSNull()], "usage": usage], to: &out)
        out.writeEvent(MessagesPassThroughWriter.messageStop)
    }

    public mutating func fail(to out: inout ByteBuffer) { out.writeEvent(MessagesErrors.midStreamError) }

    private mutating func start(_ chunk: [String: Any], to out: inout ByteBuffer) {
        started = true
        let message: [String: Any] = [
            "id": MessagesFromChat.messageID(chunk["id"] as? String), "type": "message", "role": "assistant",
            "model": chunk["model"] as? String ?? model, "content": [Any](), "stop_reason": NSNull(), "stop_sequence": NSNull(),
            "usage": ["input_tokens": 0, "output_tokens": 0],
        ]
        emit("message_start", ["message": message], to: &out)
    }

    /// Opens `block` unless it is the one open, closing that first.
    private mutating func open(_ block: Block, to out: inout ByteBuffer, contentBlock: () -> [String: Any]) {
        if open?.block == block { return }
        close(to: &out)
        emit("content_block_start", ["index": nextIndex, "content_block": contentBlock()], to: &out)
        open = (block, nextIndex)
        nextIndex += 1
    }

    private mutating func close(to out: inout ByteBuffer) {
        guard let open else { return }
        emit("content_block_stop", ["index": open.index], to: &out)
        self.open = nil
    }

    private func emit(_ type: String, _ fields: [String: Any], to out: inout ByteBuffer) {
        var object = fields
        object["type"] = type
        let data = (try? JSONText.data(object)) ?? Data("{}".utf8)
        out.writeEvent(ServerSentEvent(event: type, data: data))
    }
}
