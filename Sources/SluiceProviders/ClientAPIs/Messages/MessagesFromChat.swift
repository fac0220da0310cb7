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

    /// A message id in Anthropic's style, from the completion's.
    static func messageID(_ completionID: String?) -> String {
        guard let completionID, !completionID.isEmpty else { return "msg_sluice" }
        return completionID.hasPrefix("msg_") ? completionID : "msg_" + completionID.replacingOccurrences(of: "chatcmpl-", with: "")
    }

    /// A tool call's arguments as the `input` object Anthropic's `tool_use` carries.
    static func input(fromArguments arguments: String?) -> Any {
        guard let data = arguments?.data(using: .utf8), let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            return [String: Any]()
        }
        return object
    }

    /// A `chat.completion` as a `message`; nil when the body is not a completion.
    public static func message(fromCompletion body: Data, model: String, usage: TokenUsage?) -> Data? {
        guard let completion = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
              let choice = (completion["choices"] as? [[String: Any]])?.first, let message = choice["message"] as? [String: Any]
        else { return nil }
        var content: [[String: Any]] = []
        if let reasoning = message["reasoning_content"] as? String, !reasoning.isEmpty {
            content.append(["type": "thinking", "thinking": reasoning, "signature": ""])
        }
        if let text = message["content"] as? String, !text.isEmpty { content.append(["type": "text", "text": text]) }
        for call in message["tool_calls"] as? [[String: Any]] ?? [] {
            let function = call["function"] as? [String: Any]
            content.append([
                "type": "tool_use", "id": call["id"] as? String ?? "", "name": function?["name"] as? String ?? "",
                "input": input(fromArguments: function?["arguments"] as? String),
            ])
        }
        let answer: [String: Any] = [
            "id": messageID(completion["id"] as? String), "type": "message", "role": "assistant",
            "model": completion["model"] as? String ?? model, "content": content,
            "stop_reason": stopReason(choice["finish_reason"] as? String), "stop_sequence": NSNull(),
            "usage": Self.usage(usage ?? TokenUsage(promptTokens: 0, completionTokens: 0)),
        ]
        return try? JSONText.data(answer)
    }
}
