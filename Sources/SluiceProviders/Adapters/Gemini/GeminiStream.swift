import Foundation
import SluiceCore

/// Gemini's stream (`alt=sse`: each event a whole `GenerateContentResponse` with the next
/// parts) as OpenAI chunks. Gemini sends no end event: the stream has ended well when the body
/// ends after a finish reason, and `finish` then writes the usage chunk and the end.
struct GeminiStream: StreamTranslator {
    private var chunks: OpenAIChunks
    private var started = false
    private var calls = 0
    private var finishReason: String?
    private var sawCall = false
    private var usage: TokenUsage?

    init(model: String, created: Int) { chunks = OpenAIChunks(id: "gemini", model: model, created: created) }

    mutating func translate(_ event: ServerSentEvent, needOutputCheck: Bool, emit: (RelayedEvent) -> Void) {
        let firstCall = calls
        guard let response = GeminiResponse(event.data, nextCall: &calls) else { return }
        let reading = response.reading
        if reading.isError { return emit(RelayedEvent(.error, event)) }
        if !started {
            started = true
            chunks.id = response.responseID ?? chunks.id
            chunks.model = response.modelVersion ?? chunks.model
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
        chunks.end(usage: usage ?? TokenUsage(promptTokens: 0, completionTokens: 0), emit: emit)
    }

    private func chunk(delta: [String: Any], finish: String? = nil, kind: StreamEventKind) -> RelayedEvent {
        chunks.chunk(delta: delta, finish: finish, kind: kind)
    }
}
