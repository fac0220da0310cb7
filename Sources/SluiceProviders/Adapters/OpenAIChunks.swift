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
/// A whole `chat.completion`, written directly: the shape every translated whole answer takes.
enum ChatCompletionText {
    /// The assistant's message: text (null beside tool calls when there is none), calls, reasoning.
    static func message(text: String, toolCalls: [[UInt8]], reasoning: String, thinkingBlocks: [[UInt8]] = []) -> [UInt8] {
        var message = JSONObjectWriter(capacity: text.utf8.count + reasoning.utf8.count + 64)
        message.string("role", "assistant")
        if text.isEmpty && !toolCalls.isEmpty { message.null("content") } else { message.string("content", text) }
        message.null("refusal")
        if !toolCalls.isEmpty { message.array("tool_calls", toolCalls) }
        if !reasoning.isEmpty { message.string("reasoning_content", reasoning) }
        if !thinkingBlocks.isEmpty { message.array("thinking_blocks", thinkingBlocks) }
        return message.finish()
    }

    static func toolCall(id: String, name: String, arguments: String) -> [UInt8] {
        var function = JSONObjectWriter()
        function.string("name", name)
        function.string("arguments", arguments)
        var call = JSONObjectWriter()
        call.string("id", id)
        call.string("type", "function")
        call.json("function", function.finish())
        return call.finish()
    }

    static func completion(id: String, created: Int, model: String, message: [UInt8], finishReason: String, usage: TokenUsage) -> Data {
        var choice = JSONObjectWriter(capacity: message.count + 64)
        choice.int("index", 0)
        choice.json("message", message)
        choice.null("logprobs")
        choice.string("finish_reason", finishReason)
        var completion = JSONObjectWriter(capacity: message.count + 320)
        completion.string("id", id)
        completion.string("object", "chat.completion")
        completion.int("created", created)
        completion.string("model", model)
        completion.array("choices", [choice.finish()])
        completion.json("usage", OpenAIUsage.text(usage))
        return Data(completion.finish())
    }
}

enum OpenAIUsage {
    /// The same object as `json`, written directly, for answers written without a tree.
    static func text(_ usage: TokenUsage) -> [UInt8] {
        var details = JSONObjectWriter(capacity: 64)
        details.int("cached_tokens", usage.cachedPromptTokens)
        details.int("cache_write_tokens", usage.cacheWriteTokens)
        var out = JSONObjectWriter(capacity: 160)
        out.int("prompt_tokens", usage.promptTokens)
        out.int("completion_tokens", usage.completionTokens)
        out.int("total_tokens", usage.promptTokens + usage.completionTokens)
        out.json("prompt_tokens_details", details.finish())
        return out.finish()
    }

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
