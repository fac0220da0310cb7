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
        guard let message = AnthropicMessage(body) else { return nil }
        var text = ""
        var reasoning = ""
        var thinkingBlocks: [[UInt8]] = []
        var toolCalls: [[UInt8]] = []
        for block in message.blocks {
            switch block.type {
            case "text": text += block.text ?? ""
            case "thinking":
                let thinking = block.thinking ?? ""
                reasoning += thinking
                var out = JSONObjectWriter(capacity: thinking.utf8.count + 64)
                out.string("type", "thinking")
                out.string("thinking", thinking)
                out.string("signature", block.signature ?? "")
                thinkingBlocks.append(out.finish())
            case "redacted_thinking":
                var out = JSONObjectWriter()
                out.string("type", "redacted_thinking")
                out.string("data", block.data ?? "")
                thinkingBlocks.append(out.finish())
            case "tool_use":
                toolCalls.append(ChatCompletionText.toolCall(id: block.id ?? "", name: block.name ?? "", arguments: block.input ?? "{}"))
            default: continue
            }
        }
        let reply = ChatCompletionText.message(text: text, toolCalls: toolCalls, reasoning: reasoning, thinkingBlocks: thinkingBlocks)
        let body = ChatCompletionText.completion(
            id: message.id ?? "msg", created: created, model: message.model ?? "", message: reply,
            finishReason: finishReason(message.stopReason), usage: message.usage)
        return (body, message.usage)
    }

    /// Anthropic counts input in three parts; OpenAI's `prompt_tokens` is their sum, with the
    /// cache reads and writes as details.
    static func usage(_ usage: [String: Any]?, outputTokens: Int? = nil) -> TokenUsage {
        self.usage(
            input: usage?["input_tokens"] as? Int ?? 0, cacheRead: usage?["cache_read_input_tokens"] as? Int ?? 0,
            cacheWrite: usage?["cache_creation_input_tokens"] as? Int ?? 0, output: outputTokens ?? usage?["output_tokens"] as? Int ?? 0)
    }

    static func usage(input: Int, cacheRead: Int, cacheWrite: Int, output: Int) -> TokenUsage {
        TokenUsage(promptTokens: input + cacheRead + cacheWrite, completionTokens: output, cachedPromptTokens: cacheRead, cacheWriteTokens: cacheWrite)
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
