import Foundation
import NIOCore
import SluiceCore

/// OpenAI chat answers as Gemini's `GenerateContentResponse`, for Gemini clients served by
/// accounts that do not speak Gemini.
public enum GeminiFromChat {
    /// Gemini's `finishReason` for OpenAI's `finish_reason`.
    static func finishReason(_ reason: String?) -> String {
        switch reason {
        case "length": "MAX_TOKENS"
        case "content_filter": "SAFETY"
        default: "STOP"
        }
    }

    static func usageMetadata(_ usage: TokenUsage) -> [String: Any] {
        [
            "promptTokenCount": usage.promptTokens, "candidatesTokenCount": usage.completionTokens,
            "totalTokenCount": usage.promptTokens + usage.completionTokens, "cachedContentTokenCount": usage.cachedPromptTokens,
        ]
    }

    static func functionCall(name: String?, arguments: String?) -> [String: Any] {
        let args = arguments.flatMap { $0.data(using: .utf8) }.flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }
        return ["functionCall": ["name": name ?? "", "args": args ?? [String: Any]()]]
    }

    static func response(parts: [[String: Any]], finishReason: String?, usage: TokenUsage?, model: String) -> Data {
        var candidate: [String: Any] = ["index": 0, "content": ["role": "model", "parts": parts]]
        if let finishReason { candidate["finishReason"] = finishReason }
        var object: [String: Any] = ["candidates": [candidate], "modelVersion": model]
        if let usage { object["usageMetadata"] = usageMetadata(usage) }
        return (try? JSONText.data(object)) ?? Data("{}".utf8)
    }

    /// A `chat.completion` as one `GenerateContentResponse`; nil when the body is not a completion.
    public static func response(fromCompletion body: Data, model: String, usage: TokenUsage?) -> Data? {
        guard let completion = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
              let choice = (completion["choices"] as? [[String: Any]])?.first, let message = choice["message"] as? [String: Any]
        else { return nil }
        var parts: [[String: Any]] = []
        if let reasoning = message["reasoning_content"] as? String, !reasoning.isEmpty { parts.append(["text": reasoning, "thought": true]) }
        if let text = message["content"] as? String, !text.isEmpty { parts.append(["text": text]) }
        for call in message["tool_calls"] as? [[String: Any]] ?? [] {
            let function = call["function"] as? [String: Any]
            parts.append(functionCall(name: function?["name"] as? String, arguments: function?["arguments"] as? String))
        }
        return response(
            parts: parts, finishReason: finishReason(choice["finish_reason"] as? String), usage: usage ?? TokenUsage(promptTokens: 0, completionTokens: 0),
            model: completion["model"] as? String ?? model)
    }
}

/// Errors as Google's API writes them, for Gemini clients: `{"error":{"code","message","status"}}`.
public enum GeminiErrors {
    public static func status(for code: Int) -> String {
        switch code {
        case 400, 413: "INVALID_ARGUMENT"
        case 401: "UNAUTHENTICATED"
        case 403: "PERMISSION_DENIED"
        case 404: "NOT_FOUND"
        case 429: "RESOURCE_EXHAUSTED"
        case 503, 529: "UNAVAILABLE"
        case 504: "DEADLINE_EXCEEDED"
        default: "INTERNAL"
        }
    }

    public static func body(code: Int, message: String) -> Data {
        let object: [String: Any] = ["error": ["code": code, "message": message, "status": status(for: code)]]
        return (try? JSONText.data(object, sortedKeys: true)) ?? Data()
    }

    public static func body(_ error: GatewayError) -> Data { body(code: error.status, message: error.message) }

    /// An upstream's OpenAI-shaped error body in Google's shape; nil when it is not one.
    public static func fromOpenAI(_ body: Data, status: Int) -> Data? {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any], let error = object["error"] as? [String: Any]
        else { return nil }
        return Self.body(code: status, message: error["message"] as? String ?? "The upstream rejected the request.")
    }

    static let midStreamError = ServerSentEvent(
        data: body(code: 502, message: "The upstream stream failed after it had started. The answer is incomplete."))
}

/// A Gemini stream passed through from a Gemini account: each event as it came. Gemini has no
/// end event; the relay's end is the body's end after a finish reason.
public struct GeminiPassThroughWriter: ClientStreamWriter {
    public init() {}

    public mutating func write(_ event: RelayedEvent, to out: inout ByteBuffer) -> Bool {
        out.writeEvent(event.event)
        // Gemini's last event carries the usage, and often the last text with it.
        if case .usage = event.kind { return true }
        return event.kind == .output
    }

    public mutating func finish(to out: inout ByteBuffer) {}

    public mutating func fail(to out: inout ByteBuffer) { out.writeEvent(GeminiErrors.midStreamError) }
}

/// OpenAI chunks as Gemini stream events: text as it comes, each function call whole once its
/// arguments are complete (Gemini sends calls whole), and the finish reason with the usage in the
/// last event, since OpenAI's usage comes after its finish reason.
public struct GeminiStreamWriter: ClientStreamWriter {
    private let model: String
    private var calls: [Int: (name: String?, arguments: String)] = [:]
    private var finishReason: String?
    private var usage: TokenUsage?

    public init(model: String) { self.model = model }

    public mutating func write(_ event: RelayedEvent, to out: inout ByteBuffer) -> Bool {
        guard let chunk = (try? JSONSerialization.jsonObject(with: event.event.data)) as? [String: Any] else { return false }
        if case .usage(let reported, _) = event.kind { usage = reported }
        var parts: [[String: Any]] = []
        for choice in chunk["choices"] as? [[String: Any]] ?? [] {
            let delta = choice["delta"] as? [String: Any] ?? [:]
            if let thinking = delta["reasoning_content"] as? String, !thinking.isEmpty { parts.append(["text": thinking, "thought": true]) }
            if let text = delta["content"] as? String, !text.isEmpty { parts.append(["text": text]) }
            for call in delta["tool_calls"] as? [[String: Any]] ?? [] {
                let index = call["index"] as? Int ?? 0
                let function = call["function"] as? [String: Any]
                var open = calls[index] ?? (nil, "")
                open.name = open.name ?? function?["name"] as? String
                open.arguments += function?["arguments"] as? String ?? ""
                calls[index] = open
            }
            if let finish = choice["finish_reason"] as? String { finishReason = GeminiFromChat.finishReason(finish) }
        }
        guard !parts.isEmpty else { return false }
        out.writeEvent(ServerSentEvent(data: GeminiFromChat.response(parts: parts, finishReason: nil, usage: nil, model: model)))
        return true
    }

    public mutating func finish(to out: inout ByteBuffer) {
        let parts = calls.keys.sorted().map { GeminiFromChat.functionCall(name: calls[$0]?.name, arguments: calls[$0]?.arguments) }
        let last = GeminiFromChat.response(
            parts: parts, finishReason: finishReason ?? "STOP", usage: usage ?? TokenUsage(promptTokens: 0, completionTokens: 0), model: model)
        out.writeEvent(ServerSentEvent(data: last))
    }

    public mutating func fail(to out: inout ByteBuffer) { out.writeEvent(GeminiErrors.midStreamError) }
}
