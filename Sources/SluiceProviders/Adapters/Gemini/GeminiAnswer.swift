import Foundation
import SluiceCore

/// Gemini's answers in OpenAI's shapes: a whole response as a `chat.completion`, its usage, its
/// finish reason, and its error bodies. Thought summaries (`thought: true` parts) become
/// `reasoning_content`.
enum GeminiAnswer {
    /// What one response (or stream chunk) says, read once.
    struct Reading {
        var text = ""
        var reasoning = ""
        /// Each call: its id (Gemini's, or made here, with the call's signature inside), name and arguments.
        var calls: [(id: String, name: String, arguments: String)] = []
        var finishReason: String?
        var usage: TokenUsage?
        var isError = false
    }

    /// Reads a `GenerateContentResponse`. `nextCall` numbers calls that come without an id.
    static func read(_ object: [String: Any], nextCall: inout Int) -> Reading {
        var reading = Reading()
        if object["error"] != nil {
            reading.isError = true
            return reading
        }
        if let metadata = object["usageMetadata"] as? [String: Any] { reading.usage = usage(metadata) }
        let candidate = (object["candidates"] as? [[String: Any]])?.first
        for part in (candidate?["content"] as? [String: Any])?["parts"] as? [[String: Any]] ?? [] {
            if let call = part["functionCall"] as? [String: Any] {
                let arguments = (try? JSONText.data(call["args"] ?? [String: Any]())).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                let id = toolCallID(call["id"] as? String ?? "call_\(nextCall)", signature: part["thoughtSignature"] as? String)
                nextCall += 1
                reading.calls.append((id, call["name"] as? String ?? "", arguments))
            } else if let text = part["text"] as? String {
                if part["thought"] as? Bool == true { reading.reasoning += text } else { reading.text += text }
            }
        }
        if let reason = candidate?["finishReason"] as? String {
            reading.finishReason = finishReason(reason)
        } else if (object["promptFeedback"] as? [String: Any])?["blockReason"] != nil {
            reading.finishReason = "content_filter"
        }
        return reading
    }

    static func completion(from body: Data, created: Int) -> (body: Data, usage: TokenUsage)? {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
              object["candidates"] is [Any] || object["promptFeedback"] is [String: Any]
        else { return nil }
        var calls = 0
        let reading = read(object, nextCall: &calls)
        guard !reading.isError else { return nil }
        var message: [String: Any] = [
            "role": "assistant", "content": reading.text.isEmpty && !reading.calls.isEmpty ? NSNull() : reading.text, "refusal": NSNull(),
        ]
        if !reading.calls.isEmpty { message["tool_calls"] = reading.calls.map(toolCallJSON) }
        if !reading.reasoning.isEmpty { message["reasoning_content"] = reading.reasoning }
        let usage = reading.usage ?? TokenUsage(promptTokens: 0, completionTokens: 0)
        let finish = reading.calls.isEmpty ? reading.finishReason ?? "stop" : "tool_calls"
        let completion: [String: Any] = [
            "id": object["responseId"] as? String ?? "gemini", "object": "chat.completion", "created": created,
            "model": object["modelVersion"] as? String ?? "",
            "choices": [["index": 0, "message": message, "logprobs": NSNull(), "finish_reason": finish]],
            "usage": OpenAIUsage.json(usage),
        ]
        guard let data = try? JSONText.data(completion) else { return nil }
        return (data, usage)
    }

    static func toolCallJSON(_ call: (id: String, name: String, arguments: String)) -> [String: Any] {
        ["id": call.id, "type": "function", "function": ["name": call.name, "arguments": call.arguments]]
    }

    /// `promptTokenCount` includes the cached part; thinking is billed as output, as Google bills it.
    static func usage(_ metadata: [String: Any]) -> TokenUsage {
        TokenUsage(
            promptTokens: metadata["promptTokenCount"] as? Int ?? 0,
            completionTokens: (metadata["candidatesTokenCount"] as? Int ?? 0) + (metadata["thoughtsTokenCount"] as? Int ?? 0),
            cachedPromptTokens: metadata["cachedContentTokenCount"] as? Int ?? 0)
    }

    /// STOP → stop, MAX_TOKENS → length, the safety family → content_filter.
    static func finishReason(_ reason: String) -> String {
        switch reason {
        case "MAX_TOKENS": "length"
        case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY": "content_filter"
        default: "stop"
        }
    }

    /// The separator between a call's id and the signature it carries back to Gemini.
    static let signatureMark = "~sig~"

    static func toolCallID(_ id: String, signature: String?) -> String {
        signature.map { id + signatureMark + $0 } ?? id
    }

    static func signature(inToolCallID id: String) -> String? {
        id.range(of: signatureMark).map { String(id[$0.upperBound...]) }
    }

    /// `{"error":{"code":429,"message":…,"status":"RESOURCE_EXHAUSTED"}}` as OpenAI's error object.
    static func openAIError(fromGoogle body: Data) -> Data? {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any], let error = object["error"] as? [String: Any],
              let message = error["message"] as? String
        else { return nil }
        let status = error["status"] as? String ?? "UNKNOWN"
        let type = status == "INVALID_ARGUMENT" || status == "FAILED_PRECONDITION" ? "invalid_request_error" : status.lowercased()
        let out: [String: Any] = ["error": ["message": message, "type": type, "param": NSNull(), "code": status]]
        return try? JSONText.data(out)
    }
}
