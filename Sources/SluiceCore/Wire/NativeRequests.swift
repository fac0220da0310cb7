import Foundation

extension ChatRequestSummary {
    /// Reads and validates an Anthropic Messages request (`POST /v1/messages`) into the fields
    /// the gateway interprets, in one pass of `JSONReader`, so a request passed through to an
    /// Anthropic account is never decoded whole. Errors name the field as Anthropic's do
    /// (`max_tokens: Field required`).
    ///
    /// The usage of a Messages stream always reaches its client, so `clientIncludeUsage` is true.
    /// A body to count the tokens of (`counting`, for `/v1/messages/count_tokens`) has no `max_tokens`.
    public static func parseMessages(_ body: Data, counting: Bool = false) throws(GatewayError) -> ChatRequestSummary {
        var fields = MessagesFields()
        do {
            try body.withUnsafeBytes { bytes in try JSONReader.read(bytes) { reader in try fields.read(&reader) } }
        } catch is JSONReader.JSONSyntaxError {
            throw .invalidRequest("The request body is not valid JSON.")
        } catch {
            throw .invalidRequest("The request body could not be read.")
        }
        if !fields.isObject { throw .invalidRequest("The request body must be a JSON object.") }
        if let problem = fields.problem { throw problem }
        guard let model = fields.model, !model.isEmpty else { throw .invalidRequest("model: Field required", param: "model") }
        if !counting {
            guard let maxTokens = fields.maxTokens else { throw .invalidRequest("max_tokens: Field required", param: "max_tokens") }
            guard maxTokens >= 1 else { throw .invalidRequest("max_tokens: Input should be greater than or equal to 1", param: "max_tokens") }
        }
        guard let count = fields.messageCount else { throw .invalidRequest("messages: Field required", param: "messages") }
        guard count > 0 else { throw .invalidRequest("messages: List should have at least 1 item", param: "messages") }
        return ChatRequestSummary(
            model: model, stream: !counting && fields.stream ?? false, clientIncludeUsage: true, hasStreamOptions: false,
            maxOutputTokens: counting ? 0 : fields.maxTokens,
            user: fields.user, firstMessageHash: fields.fingerprint.map { SessionHash.of("m:" + $0) })
    }
}

/// The interpreted fields of a native request as one `JSONReader` pass reads them, and the
/// first thing wrong with them, which the parse throws once the pass is done.
protocol NativeRequestFields {
    var problem: GatewayError? { get set }
    /// The error for a member of the wrong type, in the API's own words.
    static func wrongType(_ param: String) -> GatewayError
}

extension NativeRequestFields {
    mutating func record(_ error: GatewayError) {
        if problem == nil { problem = error }
    }

    /// The next value as `read` reads it; nil for null, and nil with the problem recorded for
    /// a value of the wrong type.
    mutating func typed<Value>(_ reader: inout JSONReader, _ param: String, _ read: (inout JSONReader) throws -> Value?) throws -> Value? {
        if try reader.readNull() { return nil }
        guard let value = try read(&reader) else {
            record(Self.wrongType(param))
            return nil
        }
        return value
    }
}

/// The interpreted fields of a Messages request, and the first thing wrong with them.
private struct MessagesFields: NativeRequestFields {
    var isObject = false
    var model: String?
    var maxTokens: Int?
    var stream: Bool?
    var user: String?
    var messageCount: Int?
    var fingerprint: String?
    var problem: GatewayError?

    mutating func read(_ reader: inout JSONReader) throws {
        isObject = try reader.readObject { key, reader in
            switch key {
            case "model": model = try typed(&reader, "model") { try $0.readString() }
            case "max_tokens": maxTokens = try typed(&reader, "max_tokens") { try $0.readInteger() }
            case "stream": stream = try typed(&reader, "stream") { try $0.readBool() }
            case "messages": try readMessages(&reader)
            case "metadata":
                if try reader.readNull() { return }
                let isObject = try reader.readObject { key, reader in
                    guard key == "user_id" else { return try reader.skipValue() }
                    user = try typed(&reader, "metadata.user_id") { try $0.readString() }
                }
                if !isObject { record(.invalidRequest("metadata: Input should be an object", param: "metadata")) }
            default: try reader.skipValue()
            }
        }
    }

    static func wrongType(_ param: String) -> GatewayError { .invalidRequest("\(param): Input has the wrong type", param: param) }

    /// Each message is an object whose role is `user` or `assistant`; of the first, its text is
    /// the conversation's fingerprint, as for chat requests.
    private mutating func readMessages(_ reader: inout JSONReader) throws {
        var count = 0
        let isArray = try reader.readArray { position, reader in
            count += 1
            var role: String?
            var text: String?
            let param = "messages.\(position)"
            let isObject = try reader.readObject { key, reader in
                switch key {
                case "role": role = try reader.readString()
                case "content" where position == 0: text = try Self.contentText(&reader)
                default: try reader.skipValue()
                }
            }
            guard isObject else { return record(.invalidRequest("\(param): Input should be an object", param: param)) }
            guard let role, role == "user" || role == "assistant" else {
                return record(.invalidRequest("\(param).role: Input should be 'user' or 'assistant'", param: "\(param).role"))
            }
            if position == 0, let text { fingerprint = role + "\n" + text }
        }
        if isArray { messageCount = count } else { record(.invalidRequest("messages: Input should be a list", param: "messages")) }
    }

    /// A content string, or the `text` of each block joined by lines; nil for any other shape.
    private static func contentText(_ reader: inout JSONReader) throws -> String? {
        switch try reader.peekKind() {
        case .string: return try reader.readString()
        case .array: return try reader.readPartTexts().joined(separator: "\n")
        default:
            try reader.skipValue()
            return nil
        }
    }
}

extension JSONReader {
    /// The `text` of each object in the next value, a list of parts (Anthropic's content blocks,
    /// Gemini's parts); other members and other values are skipped.
    mutating func readPartTexts() throws -> [String] {
        var texts: [String] = []
        _ = try readArray { _, reader in
            _ = try reader.readObject { key, reader in
                guard key == "text" else { return try reader.skipValue() }
                if let text = try reader.readString() { texts.append(text) }
            }
        }
        return texts
    }
}

extension ChatRequestSummary {
    /// Reads and validates a Gemini `generateContent` body, whose model and streaming are in its
    /// URL, in one pass of `JSONReader`: `contents` must be a non-empty list of objects whose
    /// role, when given, is `user` or `model`. Errors name the field as Google's do.
    public static func parseGemini(_ body: Data, model: String, stream: Bool) throws(GatewayError) -> ChatRequestSummary {
        var fields = GeminiFields()
        do {
            try body.withUnsafeBytes { bytes in try JSONReader.read(bytes) { reader in try fields.read(&reader) } }
        } catch {
            throw .invalidRequest("Invalid JSON payload received.")
        }
        if !fields.isObject { throw .invalidRequest("The request body must be a JSON object.") }
        if let problem = fields.problem { throw problem }
        guard let contents = fields.contents, contents > 0 else { throw .invalidRequest("contents is not specified.", param: "contents") }
        if let maxOutputTokens = fields.maxOutputTokens, maxOutputTokens < 1 {
            throw .invalidRequest("generationConfig.maxOutputTokens must be positive.", param: "generationConfig.maxOutputTokens")
        }
        return ChatRequestSummary(
            model: model, stream: stream, clientIncludeUsage: true, hasStreamOptions: false, maxOutputTokens: fields.maxOutputTokens,
            user: nil, firstMessageHash: fields.fingerprint.map { SessionHash.of("m:" + $0) })
    }

    /// Reads and validates an OpenAI embeddings request (`POST /v1/embeddings`): a model, and an
    /// `input` that is a string or a non-empty list. Embeddings write no tokens, so the hold is
    /// for the input alone (`maxOutputTokens` 0).
    public static func parseEmbeddings(_ body: Data) throws(GatewayError) -> ChatRequestSummary {
        var model: String?
        var input: (kind: JSONReader.Kind, count: Int)?
        var user: String?
        let isObject: Bool
        do {
            isObject = try body.withUnsafeBytes { bytes in
                try JSONReader.read(bytes) { reader in
                    try reader.readObject { key, reader in
                        switch key {
                        case "model": model = try reader.readString()
                        case "user": user = try reader.readString()
                        case "input":
                            let kind = try reader.peekKind()
                            var count = 0
                            if kind == .array { _ = try reader.readArray { _, reader in count += 1; try reader.skipValue() } } else { try reader.skipValue() }
                            input = (kind, count)
                        default: try reader.skipValue()
                        }
                    }
                }
            }
        } catch {
            throw .invalidRequest("We could not parse the JSON body of your request. It is not valid JSON.")
        }
        guard isObject else { throw .invalidRequest("The request body must be a JSON object.") }
        guard let model, !model.isEmpty else { throw .invalidRequest("You must provide a model parameter.", param: "model") }
        switch input {
        case (.string, _)?: break
        case (.array, let count)? where count > 0: break
        case (.array, _)?: throw .invalidRequest("'input' must not be empty.", param: "input")
        case nil: throw .invalidRequest("Missing required parameter: 'input'.", param: "input")
        default: throw .invalidRequest("'input' must be a string or an array.", param: "input")
        }
        return ChatRequestSummary(
            model: model, stream: false, clientIncludeUsage: false, hasStreamOptions: false, maxOutputTokens: 0, user: user, firstMessageHash: nil)
    }
}

/// The interpreted fields of a Gemini request, and the first thing wrong with them.
private struct GeminiFields: NativeRequestFields {
    var isObject = false
    var contents: Int?
    var fingerprint: String?
    var maxOutputTokens: Int?
    var problem: GatewayError?

    mutating func read(_ reader: inout JSONReader) throws {
        isObject = try reader.readObject { key, reader in
            switch key {
            case "contents": try readContents(&reader)
            case "generationConfig":
                _ = try reader.readObject { key, reader in
                    guard key == "maxOutputTokens" else { return try reader.skipValue() }
                    maxOutputTokens = try reader.readInteger()
                }
            default: try reader.skipValue()
            }
        }
    }

    /// Each content is an object whose role, if any, is `user` or `model`; of the first, its
    /// text is the conversation's fingerprint, as for chat requests.
    private mutating func readContents(_ reader: inout JSONReader) throws {
        var count = 0
        let isArray = try reader.readArray { position, reader in
            count += 1
            var role: String?
            var texts: [String] = []
            let isObject = try reader.readObject { key, reader in
                switch key {
                case "role": role = try reader.readString()
                case "parts" where position == 0: texts = try reader.readPartTexts()
                default: try reader.skipValue()
                }
            }
            if !isObject || (role != nil && role != "user" && role != "model") {
                record(.invalidRequest("contents[\(position)].role must be user or model.", param: "contents[\(position)]"))
            }
            if position == 0 { fingerprint = (role ?? "user") + "\n" + texts.joined(separator: "\n") }
        }
        if isArray { contents = count } else { record(.invalidRequest("contents must be a list.", param: "contents")) }
    }

    static func wrongType(_ param: String) -> GatewayError { .invalidRequest("\(param) has the wrong type.", param: param) }
}
