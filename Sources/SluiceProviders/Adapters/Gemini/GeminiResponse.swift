import Foundation
import SluiceCore

/// A `GenerateContentResponse` (a whole answer, or one event of a stream), read in one pass over
/// its bytes (`JSONReader`) for what the gateway says with it: parsing it into a `[String: Any]`
/// tree and casting each value back cost as much as the rest of the translation (docs/benchmarks.md).
struct GeminiResponse {
    var responseID: String?
    var modelVersion: String?
    /// `candidates` is a list; `promptFeedback` an object (a prompt blocked before any candidate).
    var hasCandidates = false
    var hasPromptFeedback = false
    var reading = GeminiAnswer.Reading()

    /// One part of the first candidate's content, as read.
    private struct Part {
        var text: String?
        var thought = false
        var signature: String?
        var call: (id: String?, name: String?, arguments: String?)?
    }

    private init() {}

    /// Nil when `body` is not a JSON object. `nextCall` numbers the calls that come without an id.
    init?(_ body: Data, nextCall: inout Int) {
        var response = GeminiResponse()
        var parts: [Part] = []
        var candidateFinish: String?
        var blockReason = false
        let isObject: Bool? = body.withUnsafeBytes { bytes in
            try? JSONReader.read(bytes) { reader in
                try reader.readObject { key, reader in
                    switch key {
                    case "error":
                        response.reading.isError = true
                        try reader.skipValue()
                    case "responseId": response.responseID = try reader.readString()
                    case "modelVersion": response.modelVersion = try reader.readString()
                    case "usageMetadata": response.reading.usage = try Self.readUsage(&reader)
                    case "promptFeedback":
                        response.hasPromptFeedback = try reader.readObject { key, reader in
                            if key == "blockReason" { blockReason = true }
                            try reader.skipValue()
                        }
                    case "candidates":
                        response.hasCandidates = try reader.readArray { index, reader in
                            guard index == 0 else { return try reader.skipValue() }
                            (parts, candidateFinish) = try Self.readCandidate(&reader)
                        }
                    default: try reader.skipValue()
                    }
                }
            }
        }
        guard isObject == true else { return nil }
        if response.reading.isError {
            response.reading = GeminiAnswer.Reading(isError: true)
        } else {
            for part in parts {
                if let call = part.call {
                    let id = GeminiAnswer.toolCallID(call.id ?? "call_\(nextCall)", signature: part.signature)
                    nextCall += 1
                    response.reading.calls.append((id, call.name ?? "", call.arguments ?? "{}"))
                } else if let text = part.text {
                    if part.thought { response.reading.reasoning += text } else { response.reading.text += text }
                }
            }
            if let candidateFinish {
                response.reading.finishReason = GeminiAnswer.finishReason(candidateFinish)
            } else if blockReason {
                response.reading.finishReason = "content_filter"
            }
        }
        self = response
    }

    /// `promptTokenCount` includes the cached part; thinking is billed as output, as Google bills it.
    private static func readUsage(_ reader: inout JSONReader) throws -> TokenUsage? {
        var prompt = 0, candidates = 0, thoughts = 0, cached = 0
        let isObject = try reader.readObject { key, reader in
            let value = try reader.readInteger() ?? 0
            switch key {
            case "promptTokenCount": prompt = value
            case "candidatesTokenCount": candidates = value
            case "thoughtsTokenCount": thoughts = value
            case "cachedContentTokenCount": cached = value
            default: break
            }
        }
        return isObject ? TokenUsage(promptTokens: prompt, completionTokens: candidates + thoughts, cachedPromptTokens: cached) : nil
    }

    /// The first candidate's parts and finish reason; none when it is not an object, or its parts
    /// are not a list of objects.
    private static func readCandidate(_ reader: inout JSONReader) throws -> ([Part], String?) {
        var parts: [Part] = []
        var partsWhole = true
        var finish: String?
        let isObject = try reader.readObject { key, reader in
            switch key {
            case "finishReason": finish = try reader.readString()
            case "content":
                _ = try reader.readObject { key, reader in
                    guard key == "parts" else { return try reader.skipValue() }
                    partsWhole = try reader.readArray { _, reader in
                        var part = Part()
                        if try reader.readObject({ key, reader in try readPart(key, &reader, into: &part) }) {
                            parts.append(part)
                        } else {
                            partsWhole = false
                        }
                    } && partsWhole
                }
            default: try reader.skipValue()
            }
        }
        guard isObject else { return ([], nil) }
        return (partsWhole ? parts : [], finish)
    }

    private static func readPart(_ key: String, _ reader: inout JSONReader, into part: inout Part) throws {
        switch key {
        case "text": part.text = try reader.readString()
        case "thought": part.thought = try reader.readBool() == true
        case "thoughtSignature": part.signature = try reader.readString()
        case "functionCall":
            var call: (id: String?, name: String?, arguments: String?) = (nil, nil, nil)
            if try reader.readObject({ key, reader in
                switch key {
                case "id": call.id = try reader.readString()
                case "name": call.name = try reader.readString()
                case "args": call.arguments = try reader.readCompactText()
                default: try reader.skipValue()
                }
            }) {
                part.call = call
            }
        default: try reader.skipValue()
        }
    }
}
