import Foundation
import SluiceCore

/// Reads a Responses API `response` object: its usage, and its output as a `chat.completion`.
enum ResponsesAnswer {
    /// The `response` in a body, when it is one that finished (completed or cut short).
    static func response(_ body: Data) -> [String: Any]? {
        guard let response = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any], response["object"] as? String == "response",
              response["output"] is [Any], ["completed", "incomplete"].contains(response["status"] as? String ?? "completed")
        else { return nil }
        return response
    }

    /// `usage` as the gateway counts it: input includes the cached tokens, as in OpenAI's chat.
    static func usage(_ usage: [String: Any]?) -> TokenUsage? {
        guard let usage, let input = usage["input_tokens"] as? Int, let output = usage["output_tokens"] as? Int else { return nil }
        let details = usage["input_tokens_details"] as? [String: Any]
        return TokenUsage(
            promptTokens: input, completionTokens: output, cachedPromptTokens: details?["cached_tokens"] as? Int ?? 0,
            cacheWriteTokens: details?["cache_write_tokens"] as? Int ?? 0)
    }

    /// Why the answer ended, in chat's words.
    static func finishReason(_ response: [String: Any], calledTools: Bool) -> String {
        if (response["incomplete_details"] as? [String: Any])?["reason"] as? String == "max_output_tokens" { return "length" }
        return calledTools ? "tool_calls" : "stop"
    }

    /// The response as a `chat.completion`: its messages' text (and refusals, and reasoning
    /// summaries as `reasoning_content`), its function calls as `tool_calls`.
    static func completion(_ response: [String: Any], usage: TokenUsage?) -> Data? {
        var text = ""
        var refusal = ""
        var reasoning = ""
        var calls: [[String: Any]] = []
        for item in response["output"] as? [[String: Any]] ?? [] {
            switch item["type"] as? String {
            case "message":
                for part in item["content"] as? [[String: Any]] ?? [] {
                    if part["type"] as? String == "refusal" { refusal += part["refusal"] as? String ?? "" } else { text += part["text"] as? String ?? "" }
                }
            case "function_call":
                calls.append([
                    "id": item["call_id"] as? String ?? "", "type": "function",
                    "function": ["name": item["name"] as? String ?? "", "arguments": item["arguments"] as? String ?? "{}"],
                ])
            case "reasoning":
                reasoning += (item["summary"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }.joined(separator: "\n")
            default: continue
            }
        }
        var message: [String: Any] = ["role": "assistant", "content": text.isEmpty && !calls.isEmpty ? NSNull() : text, "refusal": refusal.isEmpty ? NSNull() : refusal]
        if !calls.isEmpty { message["tool_calls"] = calls }
        if !reasoning.isEmpty { message["reasoning_content"] = reasoning }
        let choice: [String: Any] = [
            "index": 0, "message": message, "logprobs": NSNull(), "finish_reason": finishReason(response, calledTools: !calls.isEmpty),
        ]
        var completion: [String: Any] = [
            "id": "chatcmpl-" + (response["id"] as? String ?? "responses"), "object": "chat.completion",
            "created": response["created_at"] as? Int ?? Int(Date().timeIntervalSince1970), "model": response["model"] as? String ?? "",
            "choices": [choice],
        ]
        if let usage { completion["usage"] = OpenAIUsage.json(usage) }
        return try? JSONText.data(completion)
    }
}
