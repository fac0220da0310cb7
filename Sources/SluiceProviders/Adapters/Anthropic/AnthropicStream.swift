import Foundation
import SluiceCore

/// Anthropic's stream events as OpenAI chunks, one event at a time: every chunk carries the
/// message's id, each tool-use block keeps one `tool_calls` index from its start to its end, the
/// stop reason becomes the `finish_reason`, and usage (input from `message_start`, output from
/// `message_delta`) goes in a final chunk with empty `choices`, which the relay shows only to a
/// client that asked for it.
struct AnthropicStream: StreamTranslator {
    private enum Block {
        case text
        case tool(index: Int)
        case thinking(text: String, signature: String?)
        case other
    }

    private var chunks: OpenAIChunks
    private var blocks: [Int: Block] = [:]
    private var toolCalls = 0
    /// Input counts by Anthropic's names (`input_tokens`, `cache_read_input_tokens`, …).
    private var inputUsage: [String: Int] = [:]
    private var outputTokens = 0

    init(model: String, created: Int) { chunks = OpenAIChunks(id: "msg", model: model, created: created) }

    mutating func translate(_ event: ServerSentEvent, needOutputCheck: Bool, emit: (RelayedEvent) -> Void) {
        guard let object = (try? JSONSerialization.jsonObject(with: event.data)) as? [String: Any], let type = object["type"] as? String else {
            return
        }
        switch type {
        case "message_start":
            let message = object["message"] as? [String: Any]
            chunks.id = message?["id"] as? String ?? chunks.id
            chunks.model = message?["model"] as? String ?? chunks.model
            for (key, value) in message?["usage"] as? [String: Any] ?? [:] { if let count = value as? Int { inputUsage[key] = count } }
            emit(chunk(delta: ["role": "assistant", "content": ""], kind: .other))
        case "content_block_start":
            blockStarted(object, emit: emit)
        case "content_block_delta":
            blockDelta(object, emit: emit)
        case "content_block_stop":
            guard let index = object["index"] as? Int, case .thinking(let text, let signature?) = blocks[index] else { return }
            // The whole block, signed, for the client to send back on its next turn (see AnthropicAnswer).
            emit(chunk(delta: ["thinking_blocks": [["type": "thinking", "thinking": text, "signature": signature]]], kind: .other))
        case "message_delta":
            let usage = object["usage"] as? [String: Any]
            outputTokens = usage?["output_tokens"] as? Int ?? outputTokens
            // Newer API versions repeat the input counts here; the latest word wins.
            for key in ["input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"] { if let value = usage?[key] as? Int { inputUsage[key] = value } }
            let stopReason = (object["delta"] as? [String: Any])?["stop_reason"] as? String
            emit(chunk(delta: [:], finish: AnthropicAnswer.finishReason(stopReason), kind: .output))
        case "message_stop":
            chunks.end(usage: AnthropicAnswer.usage(inputUsage, outputTokens: outputTokens), emit: emit)
        case "error":
            emit(RelayedEvent(.error, event))
        default:
            return  // ping, and events of later API versions
        }
    }

    private mutating func blockStarted(_ object: [String: Any], emit: (RelayedEvent) -> Void) {
        guard let index = object["index"] as? Int, let block = object["content_block"] as? [String: Any] else { return }
        switch block["type"] as? String {
        case "text":
            blocks[index] = .text
            if let text = block["text"] as? String, !text.isEmpty { emit(chunk(delta: ["content": text], kind: .output)) }
        case "tool_use":
            let toolIndex = toolCalls
            toolCalls += 1
            blocks[index] = .tool(index: toolIndex)
            let call: [String: Any] = [
                "index": toolIndex, "id": block["id"] as? String ?? "", "type": "function",
                "function": ["name": block["name"] as? String ?? "", "arguments": ""],
            ]
            emit(chunk(delta: ["tool_calls": [call]], kind: .output))
        case "thinking":
            blocks[index] = .thinking(text: "", signature: nil)
        case "redacted_thinking":
            blocks[index] = .other
            emit(chunk(delta: ["thinking_blocks": [["type": "redacted_thinking", "data": block["data"] as? String ?? ""]]], kind: .other))
        default:
            blocks[index] = .other
        }
    }

    private mutating func blockDelta(_ object: [String: Any], emit: (RelayedEvent) -> Void) {
        guard let index = object["index"] as? Int, let delta = object["delta"] as? [String: Any] else { return }
        switch (delta["type"] as? String, blocks[index]) {
        case ("text_delta", _):
            guard let text = delta["text"] as? String, !text.isEmpty else { return }
            emit(chunk(delta: ["content": text], kind: .output))
        case ("input_json_delta", .tool(let toolIndex)):
            guard let partial = delta["partial_json"] as? String, !partial.isEmpty else { return }
            emit(chunk(delta: ["tool_calls": [["index": toolIndex, "function": ["arguments": partial]]]], kind: .output))
        case ("thinking_delta", .thinking(let text, let signature)):
            guard let thinking = delta["thinking"] as? String, !thinking.isEmpty else { return }
            blocks[index] = .thinking(text: text + thinking, signature: signature)
            emit(chunk(delta: ["reasoning_content": thinking], kind: .output))
        case ("signature_delta", .thinking(let text, _)):
            blocks[index] = .thinking(text: text, signature: delta["signature"] as? String)
        default:
            return
        }
    }

    private func chunk(delta: [String: Any], finish: String? = nil, kind: StreamEventKind) -> RelayedEvent {
        chunks.chunk(delta: delta, finish: finish, kind: kind)
    }
}
