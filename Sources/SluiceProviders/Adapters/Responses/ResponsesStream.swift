import Foundation
import SluiceCore

/// What a Responses stream event is, by its `event:` name, or by its `type` when it has none.
enum ResponsesEvent {
    static func type(of event: ServerSentEvent) -> String? { event.event ?? AnthropicPassThrough.type(of: event.data) }

    /// The events that end a stream with its usage.
    static func isEnd(_ type: String) -> Bool { type == "response.completed" || type == "response.incomplete" }

    /// The events that say the answer failed.
    static func isFailure(_ type: String) -> Bool { type == "error" || type == "response.failed" }
}

/// A Responses stream for a Responses client: every event goes as it came, and is read only for
/// what it means to the relay. Deltas are output; `response.completed` carries the usage and is
/// the end, so it is read whole, once.
struct ResponsesPassThrough: StreamTranslator {
    mutating func translate(_ event: ServerSentEvent, needOutputCheck: Bool, emit: (RelayedEvent) -> Void) {
        guard let type = ResponsesEvent.type(of: event) else { return emit(RelayedEvent(.other, event)) }
        if type.hasSuffix(".delta") {
            emit(RelayedEvent(.output, event))
        } else if ResponsesEvent.isEnd(type) {
            let response = (try? JSONSerialization.jsonObject(with: event.data) as? [String: Any])?["response"] as? [String: Any]
            let usage = ResponsesAnswer.usage(response?["usage"] as? [String: Any])
            emit(RelayedEvent(usage.map { .usage($0, hasChoices: true) } ?? .other, event))
            emit(RelayedEvent(.done, ServerSentEvent(data: Data())))
        } else if ResponsesEvent.isFailure(type) {
            emit(RelayedEvent(.error, event))
        } else {
            // response.created, output_item and content_part events, and those of later versions.
            emit(RelayedEvent(.other, event))
        }
    }
}

/// A Responses stream as OpenAI chunks, for a client that speaks chat (or a protocol translated
/// through it): text, refusal and reasoning-summary deltas become content, `refusal` and
/// `reasoning_content` deltas; each function call opens with its id and name when its item is
/// added and continues with its arguments; `response.completed` gives the finish reason and the
/// usage, then the end.
struct ResponsesStream: StreamTranslator {
    private var chunks: OpenAIChunks
    private var started = false
    /// Chat `tool_calls` indexes, by the output index of their function-call item.
    private var toolIndexes: [Int: Int] = [:]

    init(model: String, created: Int) {
        chunks = OpenAIChunks(id: "chatcmpl-responses", model: model, created: created)
    }

    mutating func translate(_ event: ServerSentEvent, needOutputCheck: Bool, emit: (RelayedEvent) -> Void) {
        guard let type = ResponsesEvent.type(of: event) else { return }
        if ResponsesEvent.isFailure(type) { return emit(RelayedEvent(.error, event)) }
        guard let payload = (try? JSONSerialization.jsonObject(with: event.data)) as? [String: Any] else { return }
        if !started {
            started = true
            if let response = payload["response"] as? [String: Any], let id = response["id"] as? String { chunks.id = "chatcmpl-" + id }
            emit(chunks.chunk(delta: ["role": "assistant", "content": ""], kind: .other))
        }
        let delta = payload["delta"] as? String ?? ""
        switch type {
        case "response.output_text.delta" where !delta.isEmpty:
            emit(chunks.chunk(delta: ["content": delta], kind: .output))
        case "response.refusal.delta" where !delta.isEmpty:
            emit(chunks.chunk(delta: ["refusal": delta], kind: .output))
        case "response.reasoning_summary_text.delta" where !delta.isEmpty:
            emit(chunks.chunk(delta: ["reasoning_content": delta], kind: .output))
        case "response.output_item.added":
            guard let item = payload["item"] as? [String: Any], item["type"] as? String == "function_call",
                  let outputIndex = payload["output_index"] as? Int
            else { return }
            let index = toolIndexes.count
            toolIndexes[outputIndex] = index
            let call: [String: Any] = [
                "index": index, "id": item["call_id"] as? String ?? "", "type": "function",
                "function": ["name": item["name"] as? String ?? "", "arguments": item["arguments"] as? String ?? ""],
            ]
            emit(chunks.chunk(delta: ["tool_calls": [call]], kind: .output))
        case "response.function_call_arguments.delta" where !delta.isEmpty:
            guard let outputIndex = payload["output_index"] as? Int, let index = toolIndexes[outputIndex] else { return }
            emit(chunks.chunk(delta: ["tool_calls": [["index": index, "function": ["arguments": delta]]]], kind: .output))
        case _ where ResponsesEvent.isEnd(type):
            let response = payload["response"] as? [String: Any] ?? [:]
            emit(chunks.chunk(delta: [:], finish: ResponsesAnswer.finishReason(response, calledTools: !toolIndexes.isEmpty), kind: .output))
            // Without usage, settlement estimates the cost, as for any stream that reports none.
            if let usage = ResponsesAnswer.usage(response["usage"] as? [String: Any]) {
                chunks.end(usage: usage, emit: emit)
            } else {
                emit(RelayedEvent(.done, ServerSentEvent(data: Data())))
            }
        default:
            return
        }
    }
}
