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
    ///
    /// Invalid JSON anywhere is reported before any field's error; of several wrong fields, the first
    /// in the order of `Field` is named.
    public static func parse(_ body: Data) throws(GatewayError) -> ChatRequestSummary {
        var fields = Fields()
        do {
            try body.withUnsafeBytes { bytes in try JSONReader.read(bytes) { reader in try fields.read(&reader) } }
        } catch is JSONReader.JSONSyntaxError {
            throw .invalidRequest("We could not parse the JSON body of your request. It is not valid JSON.")
        } catch {
            throw .invalidRequest("We could not parse the JSON body of your request.")
        }
        if !fields.isObject { throw .invalidRequest("The request body must be a JSON object.") }
        if let problem = fields.problems.min(by: { $0.key < $1.key })?.value { throw problem }
        guard let model = fields.model else {
            throw .invalidRequest("You must provide a model parameter.", param: "model")
        }
        guard !model.isEmpty else { throw .invalidRequest("The model parameter must not be empty.", param: "model") }
        guard let messageCount = fields.messageCount else {
            throw .invalidRequest("Missing required parameter: 'messages'.", param: "messages")
        }
        guard messageCount > 0 else {
            throw .invalidRequest("'messages' must contain at least one message.", param: "messages", code: "empty_array")
        }
        let maxOut = fields.maxCompletionTokens ?? fields.maxTokens
        if let maxOut, maxOut < 1 {
            let param = fields.maxCompletionTokens != nil ? "max_completion_tokens" : "max_tokens"
            throw .invalidRequest("'\(param)' must be at least 1.", param: param)
        }
        return ChatRequestSummary(
            model: model, stream: fields.stream ?? false, clientIncludeUsage: fields.includeUsage ?? false,
            hasStreamOptions: fields.hasStreamOptions, maxOutputTokens: maxOut, user: fields.user,
            firstMessageHash: fields.fingerprint.map { SessionHash.of("m:" + $0) })
    }

    /// The fields as read, and what was wrong with them. A field sent as `null` counts as absent.
    private struct Fields {
        /// The interpreted fields, in the order in which their errors are reported.
        enum Field: Int, Comparable {
            case model, messages, stream, streamOptions, maxTokens, maxCompletionTokens, user
            static func < (a: Field, b: Field) -> Bool { a.rawValue < b.rawValue }
        }

        var isObject = false
        var model: String?
        var messageCount: Int?
        var fingerprint: String?
        var stream: Bool?
        var hasStreamOptions = false
        var includeUsage: Bool?
        var maxTokens: Int?
        var maxCompletionTokens: Int?
        var user: String?
        var problems: [Field: GatewayError] = [:]

        mutating func read(_ reader: inout JSONReader) throws {
            isObject = try reader.readObject { key, reader in
                switch key {
                case "model": model = try value(&reader, .model, "model") { try $0.readString() }
                case "messages": try readMessages(&reader)
                case "stream": stream = try value(&reader, .stream, "stream") { try $0.readBool() }
                case "stream_options": try readStreamOptions(&reader)
                case "max_tokens": maxTokens = try value(&reader, .maxTokens, "max_tokens") { try $0.readInteger() }
                case "max_completion_tokens":
                    maxCompletionTokens = try value(&reader, .maxCompletionTokens, "max_completion_tokens") { try $0.readInteger() }
                case "user": user = try value(&reader, .user, "user") { try $0.readString() }
                default: try reader.skipValue()
                }
            }
        }

        /// Reads one optional field; a value of the wrong kind is recorded against `field`.
        private mutating func value<Value>(
            _ reader: inout JSONReader, _ field: Field, _ param: String, _ read: (inout JSONReader) throws -> Value?
        ) throws -> Value? {
            if try reader.readNull() { return nil }
            guard let value = try read(&reader) else {
                record(field, .invalidRequest("Invalid type or value for '\(param)'.", param: param))
                return nil
            }
            return value
        }

        private mutating func record(_ field: Field, _ problem: GatewayError) {
            if problems[field] == nil { problems[field] = problem }
        }

        /// Checks that each message is an object with a string role. Of the first message it also
        /// reads the text, for the conversation's fingerprint; of the others nothing more.
        private mutating func readMessages(_ reader: inout JSONReader) throws {
            if try reader.readNull() { return }
            var count = 0
            let isArray = try reader.readArray { position, reader in
                count += 1
                try readMessage(&reader, position: position)
            }
            if isArray {
                messageCount = count
            } else {
                record(.messages, .invalidRequest("Invalid type or value for 'messages'.", param: "messages"))
            }
        }

        private mutating func readMessage(_ reader: inout JSONReader, position: Int) throws {
            let path = "messages[\(position)]"
            var role: String?
            var text: String?
            var roleIsWrong = false
            let isObject = try reader.readObject { key, reader in
                switch key {
                case "role":
                    if try reader.readNull() { return }
                    role = try reader.readString()
                    roleIsWrong = role == nil
                case "content" where position == 0: text = try Self.readContentText(&reader)
                default: try reader.skipValue()
                }
            }
            if !isObject {
                record(.messages, .invalidRequest("Invalid type or value for '\(path)'.", param: path))
            } else if roleIsWrong {
                record(.messages, .invalidRequest("Invalid type or value for '\(path).role'.", param: "\(path).role"))
            } else if let role {
                if position == 0, let text { fingerprint = role + "\n" + text }
            } else {
                record(.messages, .invalidRequest("Missing required parameter: '\(path).role'.", param: "\(path).role"))
            }
        }

        /// A message's text: the content string, or the `text` of each content part joined by lines.
        /// Nil when the content has any other shape.
        private static func readContentText(_ reader: inout JSONReader) throws -> String? {
            switch try reader.peekKind() {
            case .string: return try reader.readString()
            case .array:
                var texts: [String] = []
                var wellFormed = true
                _ = try reader.readArray { _, reader in
                    if try reader.readNull() {
                        wellFormed = false
                        return
                    }
                    let isObject = try reader.readObject { key, reader in
                        guard key == "text" else { return try reader.skipValue() }
                        if try reader.readNull() { return }
                        if let text = try reader.readString() { texts.append(text) } else { wellFormed = false }
                    }
                    wellFormed = wellFormed && isObject
                }
                return wellFormed ? texts.joined(separator: "\n") : nil
            default:
                try reader.skipValue()
                return nil
            }
        }

        private mutating func readStreamOptions(_ reader: inout JSONReader) throws {
            // Sent, even as null: the body is then re-encoded rather than spliced, so it never
            // carries two `stream_options` keys.
            hasStreamOptions = true
            if try reader.readNull() { return }
            let isObject = try reader.readObject { key, reader in
                guard key == "include_usage" else { return try reader.skipValue() }
                includeUsage = try value(&reader, .streamOptions, "stream_options.include_usage") { try $0.readBool() }
            }
            if !isObject {
                record(.streamOptions, .invalidRequest("Invalid type or value for 'stream_options'.", param: "stream_options"))
            }
        }
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
        return try? JSONText.data(object)
    }

    /// Names `model` in place of the body's top-level `model`, every other byte as the client
    /// sent it: a request for an alias goes to each target under the target's name. Nil when the
    /// body is not a JSON object with a string `model`.
    public static func replacingModel(_ body: Data, with model: String) -> Data? {
        var spans: [Range<Int>] = []
        let read: Bool? = try? body.withUnsafeBytes { bytes in
            try JSONReader.read(bytes) { reader in
                try reader.readObject { key, reader in
                    guard key == "model", try reader.peekKind() == .string else { return try reader.skipValue() }
                    let start = reader.offset
                    try reader.skipValue()
                    spans.append(start..<reader.offset)
                }
            }
        }
        guard read == true, !spans.isEmpty, let name = try? JSONEncoder().encode(model) else { return nil }
        var edited = Data(capacity: body.count + name.count)
        var copied = 0
        for span in spans {
            edited.append(body[(body.startIndex + copied)..<(body.startIndex + span.lowerBound)])
            edited.append(name)
            copied = span.upperBound
        }
        edited.append(body[(body.startIndex + copied)...])
        return edited
    }
}
