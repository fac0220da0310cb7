import Foundation
import SluiceCore

/// Chat sessions a user keeps and the messages in them. Every call names the user: another
/// user's session is the same as one that does not exist. A session's totals are updated by the
/// same transaction that adds its messages, so concurrent appends leave them exact.
public protocol ChatSessionStore: Sendable {
    func createChatSession(userID: Int64, title: String, metadata: String?, at: Date) async throws -> ChatSessionRecord
    /// Newest first, `page.beforeID` being the last id of the previous page.
    func chatSessions(userID: Int64, status: ChatSessionStatus?, page: PageRequest) async throws -> [ChatSessionRecord]
    func chatSession(id: Int64, userID: Int64) async throws -> ChatSessionRecord?
    /// Nil when the user has no such session.
    func updateChatSession(id: Int64, userID: Int64, _ update: ChatSessionUpdate) async throws -> ChatSessionRecord?
    /// Deletes the session and every message in it; false when the user has no such session.
    func deleteChatSession(id: Int64, userID: Int64) async throws -> Bool
    /// Adds the messages in order and updates the totals, in one transaction. A message with a
    /// request id that the session already holds for that role is not added again. Nil when the
    /// user has no such session.
    func appendChatMessages(sessionID: Int64, userID: Int64, _ messages: [NewChatMessage], at: Date) async throws -> ChatAppendResult?
    /// Oldest first, after `afterID`; nil when the user has no such session.
    func chatMessages(sessionID: Int64, userID: Int64, afterID: Int64?, limit: Int) async throws -> [ChatMessageRecord]?
}

public enum ChatSessionStatus: String, Sendable, CaseIterable {
    case active, archived
}

public struct ChatSessionRecord: Sendable, Equatable {
    public var id: Int64
    public var userID: Int64
    public var title: String
    public var status: ChatSessionStatus
    /// A JSON object, as text.
    public var metadata: String?
    public var messageCount: Int
    public var totalTokens: Int
    public var totalCost: Credits
    public var createdAt: Date
    public var lastActivity: Date
}

public struct ChatSessionUpdate: Sendable, Equatable {
    public var title: String?
    public var status: ChatSessionStatus?
    public var metadata: String?

    public init(title: String? = nil, status: ChatSessionStatus? = nil, metadata: String? = nil) {
        self.title = title
        self.status = status
        self.metadata = metadata
    }
}

public struct NewChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String
    public var messageType: String
    public var tokens: Int
    public var cost: Credits
    /// A JSON object, as text.
    public var metadata: String?
    /// The /v1 request it was recorded from, if it was.
    public var requestID: String?

    public init(
        role: String, content: String, messageType: String = "text", tokens: Int = 0, cost: Credits = .zero, metadata: String? = nil,
        requestID: String? = nil
    ) {
        self.role = role
        self.content = content
        self.messageType = messageType
        self.tokens = tokens
        self.cost = cost
        self.metadata = metadata
        self.requestID = requestID
    }
}

public struct ChatMessageRecord: Sendable, Equatable {
    public var id: Int64
    public var sessionID: Int64
    public var message: NewChatMessage
    public var createdAt: Date
}

public struct ChatAppendResult: Sendable, Equatable {
    /// The messages added now; a repeat of a recorded message is left out.
    public var added: [ChatMessageRecord]
    public var session: ChatSessionRecord
}

extension ChatSessionRecord {
    init(row: some StoreRow) throws {
        self.init(
            id: try row.int(required: "id"), userID: try row.int(required: "user_id"), title: try row.text(required: "title"),
            status: ChatSessionStatus(rawValue: try row.text(required: "status")) ?? .active, metadata: try row.text("metadata"),
            messageCount: try row.count("message_count"), totalTokens: try row.count("total_tokens"),
            totalCost: Credits(micros: try row.int(required: "total_cost_micros")), createdAt: try row.date(required: "created_at"),
            lastActivity: try row.date(required: "last_activity"))
    }
}

extension ChatMessageRecord {
    init(row: some StoreRow) throws {
        self.init(
            id: try row.int(required: "id"), sessionID: try row.int(required: "session_id"),
            message: NewChatMessage(
                role: try row.text(required: "role"), content: try row.text(required: "content"),
                messageType: try row.text(required: "message_type"), tokens: try row.count("tokens"),
                cost: Credits(micros: try row.int(required: "cost_micros")), metadata: try row.text("metadata"),
                requestID: try row.text("request_id")),
            createdAt: try row.date(required: "created_at"))
    }
}
