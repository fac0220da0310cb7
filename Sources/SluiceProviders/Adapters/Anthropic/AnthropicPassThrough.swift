import Foundation
import SluiceCore

/// A Messages stream for a Messages client: every event goes as it came, and is read only for
/// what it means to the relay (its `event:` name says its type). Usage is the sum of what
/// `message_start` (input) and `message_delta` (output, and in newer API versions input again)
/// report; `message_delta` carries it to settlement.
struct AnthropicPassThrough: StreamTranslator {
    /// Input counts by Anthropic's names (`input_tokens`, `cache_read_input_tokens`, …).
    private var input: [String: Int] = [:]
    private var outputTokens = 0

    mutating func translate(_ event: ServerSentEvent, needOutputCheck: Bool, emit: (RelayedEvent) -> Void) {
        switch event.event ?? Self.type(of: event.data) {
        case "content_block_delta":
            emit(RelayedEvent(.output, event))
        case "message_start":
            let message = (try? JSONSerialization.jsonObject(with: event.data) as? [String: Any])?["message"] as? [String: Any]
            for (key, value) in message?["usage"] as? [String: Any] ?? [:] { if let count = value as? Int { input[key] = count } }
            emit(RelayedEvent(.other, event))
        case "message_delta":
            let usage = (try? JSONSerialization.jsonObject(with: event.data) as? [String: Any])?["usage"] as? [String: Any] ?? [:]
            outputTokens = usage["output_tokens"] as? Int ?? outputTokens
            for key in ["input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"] { if let count = usage[key] as? Int { input[key] = count } }
            emit(RelayedEvent(.usage(AnthropicAnswer.usage(input, outputTokens: outputTokens), hasChoices: true), event))
        case "message_stop":
            emit(RelayedEvent(.done, event))
        case "error":
            emit(RelayedEvent(.error, event))
        default:
            // content_block_start and _stop, ping, and events of later API versions.
            emit(RelayedEvent(.other, event))
        }
    }

    /// The `type` of an event sent without an `event:` line.
    static func type(of data: Data) -> String? {
        (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["type"] as? String
    }
}
