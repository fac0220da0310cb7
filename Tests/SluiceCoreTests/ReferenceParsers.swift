import Foundation
@testable import SluiceCore

/// The chat request probe as it was written on `JSONDecoder`, kept as the oracle that
/// `JSONReaderTests` compares the hand-written reader with. Not used by the gateway.
enum ReferenceChatRequestParser {
    static func parse(_ body: Data) throws(GatewayError) -> ChatRequestSummary {
        let probe: Probe
        do {
            probe = try JSONDecoder().decode(Probe.self, from: body)
        } catch let error as GatewayError {
            throw error
        } catch DecodingError.typeMismatch(_, let context) where context.codingPath.isEmpty {
            throw .invalidRequest("The request body must be a JSON object.")
        } catch DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty {
            throw .invalidRequest("We could not parse the JSON body of your request. It is not valid JSON.")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context),
            let DecodingError.dataCorrupted(context)
        {
            let param = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }
                .joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
            throw .invalidRequest("Invalid type or value for '\(param)'.", param: param)
        } catch {
            throw .invalidRequest("We could not parse the JSON body of your request.")
        }
        guard let model = probe.model else {
            throw .invalidRequest("You must provide a model parameter.", param: "model")
        }
        guard !model.isEmpty else { throw .invalidRequest("The model parameter must not be empty.", param: "model") }
        guard let messages = probe.messages else {
            throw .invalidRequest("Missing required parameter: 'messages'.", param: "messages")
        }
        guard messages.count > 0 else {
            throw .invalidRequest("'messages' must contain at least one message.", param: "messages", code: "empty_array")
        }
        let maxOut = probe.max_completion_tokens ?? probe.max_tokens
        if let maxOut, maxOut < 1 {
            let param = probe.max_completion_tokens != nil ? "max_completion_tokens" : "max_tokens"
            throw .invalidRequest("'\(param)' must be at least 1.", param: param)
        }
        return ChatRequestSummary(
            model: model, stream: probe.stream ?? false,
            clientIncludeUsage: probe.stream_options?.include_usage ?? false,
            hasStreamOptions: probe.stream_options != nil,
            maxOutputTokens: maxOut, user: probe.user, firstMessageHash: messages[0].fingerprint.map { SessionHash.of("m:" + $0) })
    }

    private struct Probe: Decodable {
        struct StreamOptions: Decodable { var include_usage: Bool? }
        /// Validates each message is an object with a string role. Of the first message it also
        /// reads the text, for the conversation's fingerprint; of the others nothing more.
        struct Message: Decodable {
            var fingerprint: String?

            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: Key.self)
                guard let role = try c.decodeIfPresent(String.self, forKey: .role) else {
                    let path = decoder.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined()
                    throw GatewayError.invalidRequest("Missing required parameter: '\(path).role'.", param: "\(path).role")
                }
                guard decoder.codingPath.last?.intValue == 0 else { return }
                if let text = try? c.decodeIfPresent(String.self, forKey: .content) {
                    fingerprint = role + "\n" + text
                } else if let parts = try? c.decodeIfPresent([Part].self, forKey: .content) {
                    fingerprint = role + "\n" + parts.compactMap(\.text).joined(separator: "\n")
                }
            }
            struct Part: Decodable { var text: String? }
            enum Key: String, CodingKey { case role, content }
        }
        var model: String?
        var messages: [Message]?
        var stream: Bool?
        var stream_options: StreamOptions?
        var max_tokens: Int?
        var max_completion_tokens: Int?
        var user: String?
    }
}

/// The completion usage as it was read with `JSONDecoder`: the oracle for `ResponseInspection.completion`.
enum ReferenceCompletionReader {
    struct Envelope: Decodable { var usage: UsageWire? }

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

    static func completion(_ body: Data) -> ResponseInspection.Completion {
        guard let envelope = try? JSONDecoder().decode(Envelope.self, from: body) else { return .invalid }
        return .valid(usage: envelope.usage?.tokenUsage)
    }
}

/// Stream chunks as they were classified with `JSONDecoder`: the oracle for `ResponseInspection.classify`.
/// nil where JSONDecoder refused the chunk, which the gateway took as `.other`.
enum ReferenceChunkClassifier {
    static func classify(_ payload: Data, needOutputCheck: Bool) -> ResponseInspection.ChunkKind? {
        if payload.elementsEqual("[DONE]".utf8) { return .done }
        let mayBeError = payload.containsASCII(#""error""#)
        let mayHaveUsage = payload.containsASCII(#""usage""#)
        if !mayBeError && !mayHaveUsage && !needOutputCheck { return .output }
        guard let probe = try? JSONDecoder().decode(ChunkProbe.self, from: payload) else { return nil }
        if probe.error != nil { return .error }
        if let usage = probe.usage?.tokenUsage {
            return .usage(usage, hasChoices: !(probe.choices ?? []).isEmpty)
        }
        guard needOutputCheck else { return .output }
        return (probe.choices ?? []).contains(where: \.hasOutput) ? .output : .other
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
        var usage: ReferenceCompletionReader.UsageWire?
        var choices: [Choice]?
    }
}
