import Foundation
import SluiceCore

/// Writes OpenAI `chat.completion.chunk` events for a translated stream: one id, model and
/// creation time for all of them, as OpenAI's own streams have.
struct OpenAIChunks: Sendable {
    var id: String
    var model: String
    let created: Int

    /// A chunk with one choice.
    func chunk(delta: [String: Any], finish: String? = nil, kind: StreamEventKind) -> RelayedEvent {
        let choice: [String: Any] = ["index": 0, "delta": delta, "logprobs": NSNull(), "finish_reason": finish ?? NSNull()]
        return RelayedEvent(kind, ServerSentEvent(data: encode(choices: [choice], usage: nil)))
    }

    /// The usage chunk (empty `choices`), and the end.
    func end(usage: TokenUsage, emit: (RelayedEvent) -> Void) {
        emit(RelayedEvent(.usage(usage, hasChoices: false), ServerSentEvent(data: encode(choices: [], usage: usage))))
        emit(RelayedEvent(.done, ServerSentEvent(data: Data())))
    }

    private func encode(choices: [[String: Any]], usage: TokenUsage?) -> Data {
        var object: [String: Any] = ["id": id, "object": "chat.completion.chunk", "created": created, "model": model, "choices": choices]
        if let usage { object["usage"] = OpenAIUsage.json(usage) }
        return (try? JSONText.data(object)) ?? Data("{}".utf8)
    }
}

/// OpenAI's `usage` object, for translated answers: cache reads and writes as prompt details.
enum OpenAIUsage {
    static func json(_ usage: TokenUsage) -> [String: Any] {
        [
            "prompt_tokens": usage.promptTokens, "completion_tokens": usage.completionTokens,
            "total_tokens": usage.promptTokens + usage.completionTokens,
            "prompt_tokens_details": ["cached_tokens": usage.cachedPromptTokens, "cache_write_tokens": usage.cacheWriteTokens],
        ]
    }
}

/// Conversation turns for a provider whose roles must alternate: consecutive turns of one role
/// (a run of tool results, say) are merged into one. `partsKey` names a turn's list of parts.
struct AlternatingTurns {
    let partsKey: String
    private(set) var list: [[String: Any]] = []

    init(partsKey: String) { self.partsKey = partsKey }

    mutating func append(role: String, _ parts: [[String: Any]]) {
        guard !parts.isEmpty else { return }
        if let last = list.last, last["role"] as? String == role, let previous = last[partsKey] as? [[String: Any]] {
            list[list.count - 1][partsKey] = previous + parts
        } else {
            list.append(["role": role, partsKey: parts])
        }
    }
}
