import Foundation

/// The few fields of a chat request the gateway interprets. Everything else in the body is passed
/// to the upstream as the client sent it, byte for byte.
public struct ChatRequestSummary: Sendable, Equatable {
    public var model: String
    public var stream: Bool
    /// `stream_options.include_usage` as the client sent it.
    public var clientIncludeUsage: Bool
    /// Whether the client sent `stream_options` at all; decides how the body is edited.
    public var hasStreamOptions: Bool
    /// `max_completion_tokens`, else `max_tokens`.
    public var maxOutputTokens: Int?
    public var user: String?
    /// A hash of the first message's role and text: the conversation's fingerprint when the
    /// client names no session.
    public var firstMessageHash: UInt64?

    /// The conversation this request continues, for sticky routing: the client's `x-session-id`
    /// header, else the request's `user` field, else the first message.
    public func sessionKey(header: String?) -> UInt64? {
        if let header, !header.isEmpty { return SessionHash.of("h:" + header) }
        if let user, !user.isEmpty { return SessionHash.of("u:" + user) }
        return firstMessageHash
    }

    /// Reads and validates a chat request body. Errors name the offending parameter.
    public static func parse(_ body: Data) throws(GatewayError) -> ChatRequestSummary {
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

/// Targeted edits of a request body, so the common case never decodes and re-encodes the whole body.
public enum ChatRequestRewrite {
    /// Makes a streaming request ask the upstream for usage. Returns nil when the body already asks.
    ///
    /// When the client sent no `stream_options`, the field is spliced in after the opening brace.
    /// Only when it sent `stream_options` without `include_usage: true` is the body re-encoded.
    public static func forcingIncludeUsage(_ body: Data, summary: ChatRequestSummary) -> Data? {
        if summary.clientIncludeUsage { return nil }
        if !summary.hasStreamOptions, let brace = body.firstIndex(of: UInt8(ascii: "{")) {
            var edited = Data(capacity: body.count + 40)
            edited.append(body[body.startIndex...brace])
            edited.append(contentsOf: #""stream_options":{"include_usage":true},"#.utf8)
            edited.append(body[body.index(after: brace)...])
            return edited
        }
        guard var object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else { return nil }
        var options = object["stream_options"] as? [String: Any] ?? [:]
        options["include_usage"] = true
        object["stream_options"] = options
        return try? JSONSerialization.data(withJSONObject: object)
    }
}
