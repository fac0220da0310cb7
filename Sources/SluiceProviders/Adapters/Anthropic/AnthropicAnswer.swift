import Foundation
import SluiceCore

/// Anthropic's answers in OpenAI's shapes: a whole message as a `chat.completion`, its usage, its
/// stop reason, and its error bodies.
///
/// Thinking travels with the message, as `reasoning_content` (the text) and `thinking_blocks`
/// (each block with its `signature`, or a redacted block). Anthropic needs those blocks back,
/// unchanged, when a later turn continues a tool call; a client that sends the assistant message
/// back as it got it does so, and `AnthropicRequest` puts them first in that turn. Nothing is
/// kept in the gateway: any instance can serve the next turn.
enum AnthropicAnswer {
    static func completion(fromMessage body: Data, created: Int) -> (body: Data, usage: TokenUsage)? {
        guard let message = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any], message["type"] as? String == "message",
              let blocks = message["content"] as? [[String: Any]]
        else { return nil }
        var text = ""
        var reasoning = ""
        var thinkingBlocks: [[String: Any]] = []
        var toolCalls: [[String: Any]] = []
        for block in blocks {
            switch block["type"] as? String {
            case "text": text += block["text"] as? String ?? ""
            case "thinking":
                let thinking = block["thinking"] as? String ?? ""
                reasoning += thinking
                thinkingBlocks.append(["type": "thinking", "thinking": thinking, "signature": block["signature"] as? String ?? ""])
            case "redacted_thinking":
                thinkingBlocks.append(["type": "redacted_thinking", "data": block["data"] as? String ?? ""])
            case "tool_use":
                let input = block["input"] ?? [String: Any]()
                let arguments = (try? JSONText.data(input)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                toolCalls.append([
                    "id": block["id"] as? String ?? "", "type": "function",
                    "function": ["name": block["name"] as? String ?? "", "arguments": arguments],
                ])
            default: continue
            }
        }
        var reply: [String: Any] = ["role": "assistant", "content": text.isEmpty && !toolCalls.isEmpty ? NSNull() : text, "refusal": NSNull()]
        if !toolCalls.isEmpty { reply["tool_calls"] = toolCalls }
        if !reasoning.isEmpty { reply["reasoning_content"] = reasoning }
        if !thinkingBlocks.isEmpty { reply["thinking_blocks"] = thinkingBlocks }
        let usage = self.usage(message["usage"] as? [String: Any])
        let completion: [String: Any] = [
            "id": message["id"] as? String ?? "msg", "object": "chat.completion", "created": created,
            "model": message["model"] as? String ?? "",
            "choices": [["index": 0, "message": reply, "logprobs": NSNull(), "finish_reason": finishReason(message["stop_reason"] as? String)]],
            "usage": OpenAIUsage.json(usage),
        ]
        guard let data = try? JSONText.data(completion) else { return nil }
        return (data, usage)
    }

    /// Anthropic counts input in three parts; OpenAI's `prompt_tokens` is their sum, with the
    /// cache reads and writes as details.
    static func usage(_ usage: [String: Any]?, outputTokens: Int? = nil) -> TokenUsage {
        let input = usage?["input_tokens"] as? Int ?? 0
        let cacheRead = usage?["cache_read_input_tokens"] as? Int ?? 0
        let cacheWrite = usage?["cache_creation_input_tokens"] as? Int ?? 0
        return TokenUsage(
            promptTokens: input + cacheRead + cacheWrite, completionTokens: outputTokens ?? usage?["output_tokens"] as? Int ?? 0,
            cachedPromptTokens: cacheRead, cacheWriteTokens: cacheWrite)
    }

    /// end_turn → stop, max_tokens → length, tool_use → tool_calls, refusal → content_filter.
    static func finishReason(_ stopReason: String?) -> String {
        switch stopReason {
        case "max_tokens", "model_context_window_exceeded": "length"
        case "tool_use": "tool_calls"
        case "refusal": "content_filter"
        default: "stop"
        }
    }

    /// `{"type":"error","error":{"type":…,"message":…}}` as OpenAI's error object.
    static func openAIError(fromAnthropic body: Data) -> Data? {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any], let error = object["error"] as? [String: Any],
              let message = error["message"] as? String
        else { return nil }
        let type = error["type"] as? String ?? "api_error"
        let out: [String: Any] = ["error": ["message": message, "type": type, "param": NSNull(), "code": type]]
        return try? JSONText.data(out)
    }
}
