import Foundation
import SluiceCore

/// A Gemini stream for a Gemini client: every event goes as it came, read only for what it means
/// to the relay. Gemini sends no end event, so the body's end after a finish reason is the end
/// (`finish`), and usage is the last `usageMetadata` seen.
struct GeminiPassThrough: StreamTranslator {
    private var calls = 0
    private var finished = false
    private var usage: TokenUsage?

    mutating func translate(_ event: ServerSentEvent, needOutputCheck: Bool, emit: (RelayedEvent) -> Void) {
        guard let reading = GeminiResponse(event.data, nextCall: &calls)?.reading else { return emit(RelayedEvent(.other, event)) }
        if reading.isError { return emit(RelayedEvent(.error, event)) }
        finished = finished || reading.finishReason != nil
        if let reported = reading.usage {
            usage = reported
            return emit(RelayedEvent(.usage(reported, hasChoices: true), event))
        }
        let output = !reading.text.isEmpty || !reading.reasoning.isEmpty || !reading.calls.isEmpty
        emit(RelayedEvent(output ? .output : .other, event))
    }

    mutating func finish(emit: (RelayedEvent) -> Void) {
        guard finished else { return }  // cut short: the relay reports a broken stream
        emit(RelayedEvent(.done, ServerSentEvent(data: Data())))
    }
}
