import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// `/api/chat/sessions`: a user's chat sessions and their messages. Another user's session is a
/// 404 like one that does not exist. Messages come from here, or are recorded from `/v1` by a key
/// flagged `record_conversations` (see `ConversationRecorder`).
struct ChatSessionRoutes {
    let api: APIServices

    static let sessionSchema = Schema.ref("ChatSession")
    static let messageSchema = Schema.ref("ChatMessage")
    static let schemas: [String: Schema] = [
        "ChatSession": .object([
            ("id", .integer), ("title", .text), ("status", .string(values: ChatSessionStatus.allCases.map(\.rawValue))),
            ("metadata", .object([])), ("message_count", .integer), ("total_tokens", .integer), ("total_cost", .credits),
            ("created_at", .time), ("last_activity", .time),
        ]),
        "ChatMessage": .object([
            ("id", .integer), ("session_id", .integer), ("role", .text), ("content", .text), ("message_type", .text), ("tokens", .integer),
            ("cost", .credits), ("metadata", .object([])), ("request_id", .nullable(.text)), ("created_at", .time),
        ]),
    ]
    /// A title is trimmed, and must keep a character that is not white space.
    static let titleSchema = Schema.string(length: 1...maxTitle, pattern: #"\S"#)
    /// The longest title and message kept: a message is a chat turn, not a file.
    static let maxTitle = 200
    static let maxContent = 1_000_000
    static let roles: Set<String> = ["system", "user", "assistant", "tool", "developer"]

    func register(on registry: EndpointRegistry) {
        let path = "/api/chat/sessions"
        registry.user(
            Endpoint(
                method: .post, path: path, summary: "Start a chat session.",
                request: .object(
                    [("title", Self.titleSchema), ("metadata", .nullable(.object([])))], required: ["title"], closed: true),
                status: 201, response: Self.sessionSchema, tag: "chat-sessions"), create)
        registry.user(
            Endpoint(
                method: .get, path: path, summary: "Your chat sessions, newest first.",
                query: [("status", .string(values: ChatSessionStatus.allCases.map(\.rawValue)), "Only sessions in this status.")]
                    + QueryParameters.pageParameters,
                response: .object([("data", .array(Self.sessionSchema)), ("next_cursor", .nullable(.integer))]), tag: "chat-sessions"), list)
        registry.user(
            Endpoint(method: .get, path: "\(path)/{id}", summary: "One chat session with its totals.", response: Self.sessionSchema, tag: "chat-sessions"),
            show)
        registry.user(
            Endpoint(
                method: .patch, path: "\(path)/{id}", summary: "Rename a session, archive or reactivate it, or replace its metadata.",
                request: .object(
                    [
                        ("title", Self.titleSchema), ("status", .string(values: ChatSessionStatus.allCases.map(\.rawValue))),
                        ("metadata", .object([])),
                    ], closed: true),
                response: Self.sessionSchema, tag: "chat-sessions"), update)
        registry.user(
            Endpoint(method: .delete, path: "\(path)/{id}", summary: "Delete a session and every message in it.", status: 204, tag: "chat-sessions"),
            delete)
        registry.user(
            Endpoint(
                method: .post, path: "\(path)/{id}/messages", summary: "Add a message; the session's totals count it.",
                request: .object(
                    [
                        ("role", .string(values: Self.roles.sorted())), ("content", .string(length: 0...Self.maxContent)),
                        ("message_type", .nullable(.string(length: 1...50))), ("tokens", .nullable(.boundedInteger(0...Int(Int32.max)))),
                        ("cost", .nullable(.creditsInput(.positive))), ("metadata", .nullable(.object([]))),
                    ], required: ["role", "content"], closed: true),
                status: 201, response: Self.messageSchema, tag: "chat-sessions"), addMessage)
        registry.user(
            Endpoint(
                method: .get, path: "\(path)/{id}/messages", summary: "A session's messages, oldest first; `cursor` is the last id of the previous page.",
                query: [
                    ("limit", .boundedInteger(1...200), "1-200, default 50."), ("cursor", .positiveInteger, "Messages after this id."),
                ],
                response: .object([("data", .array(Self.messageSchema)), ("next_cursor", .nullable(.integer))]), tag: "chat-sessions"),
            messages)
    }

    struct NewSession: Decodable {
        var title: String
        var metadata: [String: JSONValue]?
    }

    struct SessionUpdate: Decodable {
        var title: String?
        var status: String?
        var metadata: [String: JSONValue]?
    }

    struct NewMessage: Decodable {
        var role: String
        var content: String
        var messageType: String?
        var tokens: Int?
        var cost: CreditAmount?
        var metadata: [String: JSONValue]?
    }

    @Sendable func create(_ request: Request, context: UserContext) async throws -> Response {
        let (body, _) = try await APIJSON.body(NewSession.self, from: request, allowing: ["title", "metadata"])
        let session = try await api.store.createChatSession(
            userID: context.user.id, title: try Self.title(body.title), metadata: try Self.text(body.metadata), at: Date())
        return try APIJSON.response(ChatSessionView(session), status: .created)
    }

    @Sendable func list(_ request: Request, context: UserContext) async throws -> Response {
        let query = QueryParameters(request)
        let status = try query.string("status").map { try Self.status($0, named: "Query parameter `status`") }
        let page = try query.page()
        let sessions = try await api.store.chatSessions(userID: context.user.id, status: status, page: page)
        return try APIJSON.response(Page(sessions.map(ChatSessionView.init), limit: page.limit, id: \.id))
    }

    @Sendable func show(_ request: Request, context: UserContext) async throws -> Response {
        guard let session = try await api.store.chatSession(id: try APIServices.id(context), userID: context.user.id) else { throw Self.notFound }
        return try APIJSON.response(ChatSessionView(session))
    }

    @Sendable func update(_ request: Request, context: UserContext) async throws -> Response {
        let id = try APIServices.id(context)
        let (body, _) = try await APIJSON.body(SessionUpdate.self, from: request, allowing: ["title", "status", "metadata"])
        let status = try body.status.map { try Self.status($0, named: "`status`") }
        let update = ChatSessionUpdate(title: try body.title.map(Self.title), status: status, metadata: try Self.text(body.metadata))
        guard let session = try await api.store.updateChatSession(id: id, userID: context.user.id, update) else { throw Self.notFound }
        return try APIJSON.response(ChatSessionView(session))
    }

    @Sendable func delete(_ request: Request, context: UserContext) async throws -> Response {
        guard try await api.store.deleteChatSession(id: try APIServices.id(context), userID: context.user.id) else { throw Self.notFound }
        return APIJSON.noContent()
    }

    @Sendable func addMessage(_ request: Request, context: UserContext) async throws -> Response {
        let id = try APIServices.id(context)
        let (body, _) = try await APIJSON.body(
            NewMessage.self, from: request, allowing: ["role", "content", "message_type", "tokens", "cost", "metadata"])
        guard Self.roles.contains(body.role) else {
            throw GatewayError.invalidRequest("`role` must be one of \(Self.roles.sorted().joined(separator: ", ")).", param: "role")
        }
        guard body.content.utf8.count <= Self.maxContent else {
            throw GatewayError.invalidRequest("`content` is longer than \(Self.maxContent) bytes.", param: "content")
        }
        if let tokens = body.tokens, !(0...Int(Int32.max)).contains(tokens) {
            throw GatewayError.invalidRequest("`tokens` must be a whole number from 0.", param: "tokens")
        }
        if let cost = body.cost, cost.credits <= .zero {
            throw GatewayError.invalidRequest("`cost` must be positive.", param: "cost")
        }
        let type = body.messageType ?? "text"
        guard (1...50).contains(type.count) else { throw GatewayError.invalidRequest("`message_type` must be 1 to 50 characters.", param: "message_type") }
        let message = NewChatMessage(
            role: body.role, content: body.content, messageType: type, tokens: body.tokens ?? 0, cost: body.cost?.credits ?? .zero,
            metadata: try Self.text(body.metadata))
        guard let appended = try await api.store.appendChatMessages(sessionID: id, userID: context.user.id, [message], at: Date()),
            let added = appended.added.first
        else { throw Self.notFound }
        return try APIJSON.response(ChatMessageView(added), status: .created)
    }

    @Sendable func messages(_ request: Request, context: UserContext) async throws -> Response {
        let id = try APIServices.id(context)
        let query = QueryParameters(request)
        let limit = try query.int("limit", in: 1...200) ?? 50
        let after = try query.int("cursor", in: 1...Int.max).map(Int64.init)
        guard let messages = try await api.store.chatMessages(sessionID: id, userID: context.user.id, afterID: after, limit: limit) else {
            throw Self.notFound
        }
        return try APIJSON.response(Page(messages.map(ChatMessageView.init), limit: limit, id: \.id))
    }

    static let notFound = GatewayError.notFound("No such chat session.")

    static func status(_ text: String, named name: String) throws -> ChatSessionStatus {
        guard let status = ChatSessionStatus(rawValue: text) else {
            throw GatewayError.invalidRequest("\(name) must be active or archived.", param: "status")
        }
        return status
    }

    static func title(_ text: String) throws -> String {
        let title = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...maxTitle).contains(title.count) else {
            throw GatewayError.invalidRequest("`title` must be 1 to \(maxTitle) characters.", param: "title")
        }
        return title
    }

    /// A metadata object as the text the store keeps.
    static func text(_ metadata: [String: JSONValue]?) throws -> String? {
        guard let metadata else { return nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(metadata), as: UTF8.self)
    }
}

struct ChatSessionView: Encodable {
    var id: Int64
    var title: String
    var status: String
    var metadata: RawJSONObject
    var messageCount: Int
    var totalTokens: Int
    var totalCost: CreditAmount
    var createdAt: Date
    var lastActivity: Date

    init(_ record: ChatSessionRecord) {
        id = record.id
        title = record.title
        status = record.status.rawValue
        metadata = RawJSONObject(text: record.metadata)
        messageCount = record.messageCount
        totalTokens = record.totalTokens
        totalCost = CreditAmount(record.totalCost)
        createdAt = record.createdAt
        lastActivity = record.lastActivity
    }
}

struct ChatMessageView: Encodable {
    var id: Int64
    var sessionId: Int64
    var role: String
    var content: String
    var messageType: String
    var tokens: Int
    var cost: CreditAmount
    var metadata: RawJSONObject
    var requestId: String?
    var createdAt: Date

    init(_ record: ChatMessageRecord) {
        id = record.id
        sessionId = record.sessionID
        role = record.message.role
        content = record.message.content
        messageType = record.message.messageType
        tokens = record.message.tokens
        cost = CreditAmount(record.message.cost)
        metadata = RawJSONObject(text: record.message.metadata)
        requestId = record.message.requestID
        createdAt = record.createdAt
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(sessionId, forKey: .sessionId)
        try c.encode(role, forKey: .role)
        try c.encode(content, forKey: .content)
        try c.encode(messageType, forKey: .messageType)
        try c.encode(tokens, forKey: .tokens)
        try c.encode(cost, forKey: .cost)
        try c.encode(metadata, forKey: .metadata)
        try c.encode(requestId, forKey: .requestId)  // explicit null: written here, not recorded
        try c.encode(createdAt, forKey: .createdAt)
    }

    enum CodingKeys: String, CodingKey { case id, sessionId, role, content, messageType, tokens, cost, metadata, requestId, createdAt }
}
