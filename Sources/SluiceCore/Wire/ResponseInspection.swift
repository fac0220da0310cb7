import Foundation

/// Reads what the gateway needs from upstream responses: usage, errors and whether a stream chunk
/// carries output. Payloads are forwarded as they came; these functions only look.
public enum ResponseInspection {
    /// A non-streaming answer as the gateway sees it: whether it is a JSON object at all, and its usage.
    public enum Completion: Equatable, Sendable {
        case valid(usage: TokenUsage?)
        /// Not a JSON object: an upstream that answered 200 with garbage.
        case invalid
    }

    /// Reads a non-streaming `chat.completion` body in one parse.
    public static func completion(_ body: Data) -> Completion {
        do {
            let usage = try body.withUnsafeBytes { bytes in
                try JSONReader.read(bytes) { reader -> TokenUsage? in
                    var usage: TokenUsage?
                    let isObject = try reader.readObject { key, reader in
                        guard key == "usage" else { return try reader.skipValue() }
                        usage = try readUsage(&reader)
                    }
                    guard isObject else { throw WrongShape() }
                    return usage
                }
            }
            return .valid(usage: usage)
        } catch {
            return .invalid
        }
    }

    /// Valid JSON in a shape a `chat.completion` does not have.
    private struct WrongShape: Error {}

    /// A `usage` object, or nil when it is null.
    private static func readUsage(_ reader: inout JSONReader) throws -> TokenUsage? {
        if try reader.readNull() { return nil }
        var (prompt, completion, cached) = (0, 0, 0)
        func count(_ reader: inout JSONReader) throws -> Int {
            if try reader.readNull() { return 0 }
            guard let count = try reader.readInteger() else { throw WrongShape() }
            return count
        }
        let isObject = try reader.readObject { key, reader in
            switch key {
            case "prompt_tokens": prompt = try count(&reader)
            case "completion_tokens": completion = try count(&reader)
            case "prompt_tokens_details":
                if try reader.readNull() { return }
                guard try reader.readObject({ key, reader in
                    guard key == "cached_tokens" else { return try reader.skipValue() }
                    cached = try count(&reader)
                }) else { throw WrongShape() }
            default: try reader.skipValue()
            }
        }
        guard isObject else { throw WrongShape() }
        // Through the initialiser, which clamps what an upstream may get wrong.
        return TokenUsage(promptTokens: prompt, completionTokens: completion, cachedPromptTokens: cached)
    }

    /// What one SSE `data:` payload of a chat stream means to the gateway.
    public enum ChunkKind: Equatable, Sendable {
        case done
        /// An in-band `{"error":…}` event. The message is the provider's and is not shown to clients.
        case error
        /// The usage chunk. `hasChoices` is false for OpenAI's final chunk with `"choices":[]`.
        case usage(TokenUsage, hasChoices: Bool)
        /// A chunk with output: content, tool calls, refusal or a finish reason.
        case output
        /// Anything else, such as the opening role-only delta.
        case other
    }

    /// Classifies a chunk. Cheap byte checks decide whether a decode is needed at all, so most
    /// chunks after the first few are never decoded.
    public static func classify(_ payload: Data, needOutputCheck: Bool) -> ChunkKind {
        if payload.elementsEqual("[DONE]".utf8) { return .done }
        let mayBeError = payload.containsASCII(#""error""#)
        let mayHaveUsage = payload.containsASCII(#""usage""#)
        if !mayBeError && !mayHaveUsage && !needOutputCheck { return .output }
        guard let probe = try? JSONDecoder().decode(ChunkProbe.self, from: payload) else { return .other }
        if probe.error != nil { return .error }
        if let usage = probe.usage?.tokenUsage {
            return .usage(usage, hasChoices: !(probe.choices ?? []).isEmpty)
        }
        guard needOutputCheck else { return .output }
        return (probe.choices ?? []).contains(where: \.hasOutput) ? .output : .other
    }

    struct UsageWire: Decodable {
        struct Details: Decodable { var cached_tokens: Int? }
        var prompt_tokens: Int?
        var completion_tokens: Int?
        var prompt_tokens_details: Details?
        var tokenUsage: TokenUsage {
            TokenUsage(
                promptTokens: prompt_tokens ?? 0, completionTokens: completion_tokens ?? 0,
                cachedPromptTokens: prompt_tokens_details?.cached_tokens ?? 0)
        }
    }

    struct ChunkProbe: Decodable {
        struct Present: Decodable { init(from decoder: any Decoder) throws {} }
        struct Choice: Decodable {
            struct Delta: Decodable {
                var content: String?
                var refusal: String?
                var tool_calls: [Present]?
                var function_call: Present?
            }
            var delta: Delta?
            var finish_reason: String?
            var hasOutput: Bool {
                if finish_reason != nil { return true }
                guard let delta else { return false }
                return !(delta.content ?? "").isEmpty || !(delta.refusal ?? "").isEmpty
                    || !(delta.tool_calls ?? []).isEmpty || delta.function_call != nil
            }
        }
        var error: Present?
        var usage: UsageWire?
        var choices: [Choice]?
    }
}

extension Data {
    /// Whether these bytes contain `needle`, which must be ASCII. A plain scan: payloads are small.
    func containsASCII(_ needle: StaticString) -> Bool {
        let n = needle.utf8CodeUnitCount
        guard n > 0, count >= n else { return false }
        return needle.withUTF8Buffer { needleBytes in
            withUnsafeBytes { (hay: UnsafeRawBufferPointer) in
                let first = needleBytes[0]
                var i = 0
                let last = hay.count - n
                while i <= last {
                    if hay[i] == first {
                        var j = 1
                        while j < n && hay[i + j] == needleBytes[j] { j += 1 }
                        if j == n { return true }
                    }
                    i += 1
                }
                return false
            }
        }
    }
}
