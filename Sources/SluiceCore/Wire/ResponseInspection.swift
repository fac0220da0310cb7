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
        var (prompt, completion, cached, cacheWrite) = (0, 0, 0, 0)
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
                    switch key {
                    case "cached_tokens": cached = try count(&reader)
                    case "cache_write_tokens": cacheWrite = try count(&reader)
                    default: try reader.skipValue()
                    }
                }) else { throw WrongShape() }
            default: try reader.skipValue()
            }
        }
        guard isObject else { throw WrongShape() }
        // Through the initialiser, which clamps what an upstream may get wrong.
        return TokenUsage(promptTokens: prompt, completionTokens: completion, cachedPromptTokens: cached, cacheWriteTokens: cacheWrite)
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

    /// Classifies a chunk. Cheap byte checks decide whether a read is needed at all, so most
    /// chunks after the first few are never parsed. One that is not JSON, or not in a chunk's
    /// shape, is `.other`: it is relayed as it came and never counted as output or usage.
    public static func classify(_ payload: Data, needOutputCheck: Bool) -> ChunkKind {
        if payload.elementsEqual("[DONE]".utf8) { return .done }
        let mayBeError = payload.containsASCII(#""error""#)
        let mayHaveUsage = payload.containsASCII(#""usage""#)
        if !mayBeError && !mayHaveUsage && !needOutputCheck { return .output }
        guard let chunk = try? payload.withUnsafeBytes({ try JSONReader.read($0, readChunk) }) else { return .other }
        if chunk.isError { return .error }
        if let usage = chunk.usage { return .usage(usage, hasChoices: chunk.hasChoices) }
        guard needOutputCheck else { return .output }
        return chunk.hasOutput ? .output : .other
    }

    /// What a `chat.completion.chunk` says, as far as the gateway cares.
    private struct ChunkFacts {
        /// A non-null `error` member, whatever its shape.
        var isError = false
        var usage: TokenUsage?
        var hasChoices = false
        /// Some choice has content, a refusal, tool calls, a function call or a finish reason.
        var hasOutput = false
    }

    /// Reads a chunk. Each member may be absent or null; a member of the wrong type makes the
    /// whole chunk unreadable, as it would for an SDK decoding it. A repeated key counts once, last.
    private static func readChunk(_ reader: inout JSONReader) throws -> ChunkFacts {
        var facts = ChunkFacts()
        let isObject = try reader.readObject { key, reader in
            switch key {
            case "error":
                facts.isError = try !reader.readNull()
                if facts.isError { try reader.skipValue() }
            case "usage": facts.usage = try readUsage(&reader)
            case "choices":
                (facts.hasChoices, facts.hasOutput) = (false, false)
                if try reader.readNull() { return }
                guard try reader.readArray({ _, reader in
                    facts.hasChoices = true
                    if try readChoiceHasOutput(&reader) { facts.hasOutput = true }
                }) else { throw WrongShape() }
            default: try reader.skipValue()
            }
        }
        guard isObject else { throw WrongShape() }
        return facts
    }

    /// Reads one element of `choices`, which must be an object.
    private static func readChoiceHasOutput(_ reader: inout JSONReader) throws -> Bool {
        var finished = false
        var deltaHasOutput = false
        let isObject = try reader.readObject { key, reader in
            switch key {
            case "finish_reason": finished = try readOptionalString(&reader) != nil
            case "delta":
                deltaHasOutput = false
                if try reader.readNull() { return }
                var fields = (content: false, refusal: false, toolCalls: false, functionCall: false)
                guard try reader.readObject({ key, reader in
                    switch key {
                    case "content": fields.content = try !(readOptionalString(&reader) ?? "").isEmpty
                    case "refusal": fields.refusal = try !(readOptionalString(&reader) ?? "").isEmpty
                    case "tool_calls":
                        fields.toolCalls = false
                        if try reader.readNull() { return }
                        guard try reader.readArray({ _, reader in
                            fields.toolCalls = true
                            try reader.skipValue()
                        }) else { throw WrongShape() }
                    case "function_call":
                        fields.functionCall = try !reader.readNull()
                        if fields.functionCall { try reader.skipValue() }
                    default: try reader.skipValue()
                    }
                }) else { throw WrongShape() }
                deltaHasOutput = fields.content || fields.refusal || fields.toolCalls || fields.functionCall
            default: try reader.skipValue()
            }
        }
        guard isObject else { throw WrongShape() }
        return finished || deltaHasOutput
    }

    /// A string or null; any other value is the wrong shape.
    private static func readOptionalString(_ reader: inout JSONReader) throws -> String? {
        if try reader.readNull() { return nil }
        guard let string = try reader.readString() else { throw WrongShape() }
        return string
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
