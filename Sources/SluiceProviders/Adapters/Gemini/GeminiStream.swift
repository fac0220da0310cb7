import Foundation
import SluiceCore

/// Gemini's stream (`alt=sse`: each event a whole `GenerateContentResponse` with the next
/// parts) as OpenAI chunks. Gemini sends no end event: the stream has ended well when the body
/// ends after a finish reason, and `finish` then writes the usage chunk and the end.
struct GeminiStream: StreamTranslator {
    let model: String
    let created: Int
    private var id: String?
    private var upstreamModel: String?
    private var calls = 0
    private var finishReason: String?
    private var sawCall = false
    private var usage: TokenUsage?

    init(model: String, created: Int) {
        self.model = model
        self.created = created
    }

    mutating func translate(_ event: ServerSentEvent, needOutputCheck: Bool, emit: (RelayedEvent) -> Void) {
        guard let object = (try? JSONSerialization.jsonObject(with: event.data)) as? [String: Any] else { return }
        let firstCall = calls
        let reading = GeminiAnswer.read(object, nextCall: &calls)
        if reading.isError { return emit(RelayedEvent(.error, event)) }
        if id == nil {
            id = object["responseId"] as? String ?? "gemini"
            upstreamModel = object["modelVersion"] as? String
            emit(chunk(delta: ["role": "assistant", "content": ""], kind: .other))
        }
        usage = reading.usage ?? usage
        if !reading.reasoning.isEmpty { emit(chunk(delta: ["reasoning_content": reading.reasoning], kind: .output)) }
        if !reading.text.isEmpty { emit(chunk(delta: ["content": reading.text], kind: .output)) }
        for (offset, call) in reading.calls.enumerated() {
            // Gemini sends each call whole: one delta opens and completes it.
            var json = GeminiAnswer.toolCallJSON(call)
            json["index"] = firstCall + offset
            emit(chunk(delta: ["tool_calls": [json]], kind: .output))
            sawCall = true
        }
        if let reason = reading.finishReason, finishReason == nil {
            finishReason = sawCall ? "tool_calls" : reason
            emit(chunk(delta: [:], finish: finishReason, kind: .output))
        }
    }

    mutating func finish(emit: (RelayedEvent) -> Void) {
        guard finishReason != nil else { return }  // cut short: the relay reports a broken stream
        let usage = self.usage ?? TokenUsage(promptTokens: 0, completionTokens: 0)
        emit(RelayedEvent(.usage(usage, hasChoices: false), ServerSentEvent(data: encode(choices: [], usage: usage))))
        emit(RelayedEvent(.done, ServerSentEvent(data: Data())))
    }

    private func chunk(delta: [String: Any], finish: String? = nil, kind: StreamEventKind) -> RelayedEvent {
        let choice: [String: Any] = ["index": 0, "delta": delta, "logprobs": NSNull(), "finish_reason": finish ?? NSNull()]
        return RelayedEvent(kind, ServerSentEvent(data: encode(choices: [choice], usage: nil)))
    }

    private func encode(choices: [[String: Any]], usage: TokenUsage?) -> Data {
        var object: [String: Any] = [
            "id": id ?? "gemini", "object": "chat.completion.chunk", "created": created, "model": upstreamModel ?? model, "choices": choices,
        ]
        if let usage { object["usage"] = AnthropicAnswer.usageJSON(usage) }
        return (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8)
    }
}
