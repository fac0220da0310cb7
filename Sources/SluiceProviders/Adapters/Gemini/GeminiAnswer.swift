import Foundation
import SluiceCore

/// Gemini's answers in OpenAI's shapes: a whole response as a `chat.completion`, its usage, its
/// finish reason, and its error bodies. Thought summaries (`thought: true` parts) become
/// `reasoning_content`.
enum GeminiAnswer {
    /// What one response (or stream chunk) says, as `GeminiResponse` reads it.
    struct Reading {
        var text = ""
        var reasoning = ""
        /// Each call: its id (Gemini's, or made here, with the call's signature inside), name and arguments.
        var calls: [(id: String, name: String, arguments: String)] = []
        var finishReason: String?
        var usage: TokenUsage?
        var isError = false
    }

    static func completion(from body: Data, created: Int) -> (body: Data, usage: TokenUsage)? {
        var calls = 0
        guard let response = GeminiResponse(body, nextCall: &calls), response.hasCandidates || response.hasPromptFeedback else { return nil }
        let reading = response.reading
        guard !reading.isError else { return nil }
        let usage = reading.usage ?? TokenUsage(promptTokens: 0, completionTokens: 0)
        let message = ChatCompletionText.message(
            text: reading.text, toolCalls: reading.calls.map { ChatCompletionText.toolCall(id: $0.id, name: $0.name, arguments: $0.arguments) },
            reasoning: reading.reasoning)
        let body = ChatCompletionText.completion(
            id: response.responseID ?? "gemini", created: created, model: response.modelVersion ?? "", message: message,
            finishReason: reading.calls.isEmpty ? reading.finishReason ?? "stop" : "tool_calls", usage: usage)
        return (body, usage)
    }

    /// A call as a stream delta's `tool_calls` entry (stream chunks are written from trees).
    static func toolCallJSON(_ call: (id: String, name: String, arguments: String)) -> [String: Any] {
        ["id": call.id, "type": "function", "function": ["name": call.name, "arguments": call.arguments]]
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
