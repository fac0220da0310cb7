import Foundation
import SluiceCore

/// OpenAI chat answers as Anthropic Messages answers, for `/v1/messages` clients served by
/// accounts that do not speak Messages: whole completions here, streams in `MessagesStreamWriter`.
public enum MessagesFromChat {
    /// Anthropic's `stop_reason` for OpenAI's `finish_reason`.
    static func stopReason(_ finishReason: String?) -> String {
        switch finishReason {
        case "length": "max_tokens"
        case "tool_calls", "function_call": "tool_use"
        case "content_filter": "refusal"
        default: "end_turn"
        }
    }

    /// Anthropic's usage: its `input_tokens` leave out what was read from or written to the cache.
    static func usage(_ usage: TokenUsage) -> [String: Any] {
        [
            "input_tokens": usage.promptTokens - usage.cachedPromptTokens - usage.cacheWriteTokens, "output_tokens": usage.completionTokens,
            "cache_read_input_tokens": usage.cachedPromptTokens, "cache_creation_input_tokens": usage.cacheWriteTokens,
        ]
    }

    /// The same object as `usage`, written directly, for answers written without a tree.
    static func usageText(_ usage: TokenUsage) -> [UInt8] {
        var out = JSONObjectWriter(capacity: 128)
        out.int("input_tokens", usage.promptTokens - usage.cachedPromptTokens - usage.cacheWriteTokens)
        out.int("output_tokens", usage.completionTokens)
        out.int("cache_read_input_tokens", usage.cachedPromptTokens)
        out.int("cache_creation_input_tokens", usage.cacheWriteTokens)
        return out.finish()
    }

    /// A message id in Anthropic's style, from the completion's.
    static func messageID(_ completionID: String?) -> String {
        guard let completionID, !completionID.isEmpty else { return "msg_sluice" }
        return completionID.hasPrefix("msg_") ? completionID : "msg_" + completionID.replacingOccurrences(of: "chatcmpl-", with: "")
    }

    /// A tool call's arguments as the `input` object Anthropic's `tool_use` carries, as compact
    /// JSON text: `{}` when they are not an object.
    static func input(fromArguments arguments: String?) -> [UInt8] {
        guard var arguments else { return Array("{}".utf8) }
        let object = arguments.withUTF8 { bytes in
            try? JSONReader.read(UnsafeRawBufferPointer(bytes)) { reader in try reader.peekKind() == .object ? reader.readCompactText() : nil }
        }
        return Array((object ?? "{}").utf8)
    }

    /// A `chat.completion` as a `message`; nil when the body is not a completion.
    public static func message(fromCompletion body: Data, model: String, usage: TokenUsage?) -> Data? {
        guard let completion = ChatCompletionReading(body) else { return nil }
        var content: [[UInt8]] = []
        if let reasoning = completion.reasoning, !reasoning.isEmpty {
            var block = JSONObjectWriter(capacity: reasoning.utf8.count + 64)
            block.string("type", "thinking")
            block.string("thinking", reasoning)
            block.string("signature", "")
            content.append(block.finish())
        }
        if let text = completion.content, !text.isEmpty {
            var block = JSONObjectWriter(capacity: text.utf8.count + 32)
            block.string("type", "text")
            block.string("text", text)
            content.append(block.finish())
        }
        for call in completion.toolCalls {
            var block = JSONObjectWriter()
            block.string("type", "tool_use")
            block.string("id", call.id ?? "")
            block.string("name", call.name ?? "")
            block.json("input", input(fromArguments: call.arguments))
            content.append(block.finish())
        }
        var answer = JSONObjectWriter(capacity: 512)
        answer.string("id", messageID(completion.id))
        answer.string("type", "message")
        answer.string("role", "assistant")
        answer.string("model", completion.model ?? model)
        answer.array("content", content)
        answer.string("stop_reason", stopReason(completion.finishReason))
        answer.null("stop_sequence")
        answer.json("usage", usageText(usage ?? TokenUsage(promptTokens: 0, completionTokens: 0)))
        return Data(answer.finish())
    }
}
