import Foundation

extension ChatRequestSummary {
    /// Reads and validates an OpenAI Responses request (`POST /v1/responses`) into the fields the
    /// gateway interprets, in one pass of `JSONReader`, so a request passed through to an account
    /// that speaks Responses is never decoded whole: a model, an `input` that is text or a list,
    /// and a positive `max_output_tokens` when given. The items themselves are read by whatever
    /// serves them: the upstream, or the translation to chat.
    ///
    /// A Responses stream always ends with its usage, so `clientIncludeUsage` is true.
    public static func parseResponses(_ body: Data) throws(GatewayError) -> ChatRequestSummary {
        var fields = ResponsesFields()
        do {
            try body.withUnsafeBytes { bytes in try JSONReader.read(bytes) { reader in try fields.read(&reader) } }
        } catch {
            throw .invalidRequest("We could not parse the JSON body of your request. It is not valid JSON.")
        }
        if !fields.isObject { throw .invalidRequest("The request body must be a JSON object.") }
        if let problem = fields.problem { throw problem }
        guard let model = fields.model, !model.isEmpty else { throw .invalidRequest("Missing required parameter: 'model'.", param: "model") }
        guard fields.hasInput else { throw .invalidRequest("Missing required parameter: 'input'.", param: "input") }
        if let max = fields.maxOutputTokens, max < 1 {
            throw .invalidRequest("'max_output_tokens' must be at least 1.", param: "max_output_tokens")
        }
        return ChatRequestSummary(
            model: model, stream: fields.stream ?? false, clientIncludeUsage: true, hasStreamOptions: false,
            maxOutputTokens: fields.maxOutputTokens, user: fields.user, firstMessageHash: fields.fingerprint.map { SessionHash.of("m:" + $0) })
    }
}

/// What a Responses request says of its conversation: the response it continues, and whether
/// its answer may be kept (`store`, true unless the client says false). Read in one pass that
/// skips everything else, once `parseResponses` has found the body sound.
public struct ResponsesContinuation: Sendable, Equatable {
    public var previousResponseID: String?
    public var store = true

    public init(_ body: Data) {
        var fields = self
        try? body.withUnsafeBytes { bytes in
            try JSONReader.read(bytes) { reader in
                _ = try reader.readObject { key, reader in
                    switch key {
                    case "previous_response_id": fields.previousResponseID = try reader.readString()
                    case "store": fields.store = try reader.readBool() ?? true
                    default: try reader.skipValue()
                    }
                }
            }
        }
        self = fields
    }
}

/// The interpreted fields of a Responses request, and the first thing wrong with them.
private struct ResponsesFields: NativeRequestFields {
    var isObject = false
    var model: String?
    var stream: Bool?
    var maxOutputTokens: Int?
    var user: String?
    var hasInput = false
    /// The first input's role and text, as chat requests' first message is fingerprinted.
    var fingerprint: String?
    var problem: GatewayError?

    mutating func read(_ reader: inout JSONReader) throws {
        isObject = try reader.readObject { key, reader in
            switch key {
            case "model": model = try typed(&reader, "model") { try $0.readString() }
            case "stream": stream = try typed(&reader, "stream") { try $0.readBool() }
            case "max_output_tokens": maxOutputTokens = try typed(&reader, "max_output_tokens") { try $0.readInteger() }
            case "user": user = try typed(&reader, "user") { try $0.readString() }
            case "input": try readInput(&reader)
            default: try reader.skipValue()
            }
        }
    }

    private mutating func readInput(_ reader: inout JSONReader) throws {
        switch try reader.peekKind() {
        case .string:
            hasInput = true
            fingerprint = try reader.readString().map { "user\n" + $0 }
        case .array:
            var count = 0
            _ = try reader.readArray { position, reader in
                count += 1
                guard position == 0 else { return try reader.skipValue() }
                var role = "user"
                var text: String?
                _ = try reader.readObject { key, reader in
                    switch key {
                    case "role": role = try reader.readString() ?? role
                    case "content":
                        text = try reader.peekKind() == .string ? try reader.readString() : try reader.readPartTexts().joined(separator: "\n")
                    default: try reader.skipValue()
                    }
                }
                if let text { fingerprint = role + "\n" + text }
            }
            hasInput = count > 0
            if count == 0 { record(.invalidRequest("'input' must not be empty.", param: "input")) }
        case .null:
            try reader.skipValue()
        default:
            try reader.skipValue()
            record(.invalidRequest("'input' must be a string or a list of items.", param: "input"))
        }
    }

    static func wrongType(_ param: String) -> GatewayError { .invalidRequest("'\(param)' has the wrong type.", param: param) }
}
