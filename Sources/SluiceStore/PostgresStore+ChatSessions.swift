import Foundation
import PostgresNIO
import SluiceCore

extension PostgresStore {
    public func createChatSession(userID: Int64, title: String, metadata: String?, at: Date) async throws -> ChatSessionRecord {
        try ChatSessionRecord(
            row: try await inserted(
                """
                INSERT INTO chat_sessions (user_id, title, metadata, created_at, last_activity)
                VALUES (\(userID), \(title), \(metadata)::text, \(at.unixMillis), \(at.unixMillis)) RETURNING *
                """))
    }

    public func chatSessions(userID: Int64, status: ChatSessionStatus?, page: PageRequest) async throws -> [ChatSessionRecord] {
        try await all(
            """
            SELECT * FROM chat_sessions
            WHERE user_id = \(userID) AND (\(status?.rawValue)::text IS NULL OR status = \(status?.rawValue)::text)
                AND (\(page.beforeID)::bigint IS NULL OR id < \(page.beforeID)::bigint)
            ORDER BY id DESC LIMIT \(page.limit) OFFSET \(page.offset)
            """
        ).map(ChatSessionRecord.init(row:))
    }

    public func chatSession(id: Int64, userID: Int64) async throws -> ChatSessionRecord? {
        try await first("SELECT * FROM chat_sessions WHERE id = \(id) AND user_id = \(userID)").map(ChatSessionRecord.init(row:))
    }

    public func updateChatSession(id: Int64, userID: Int64, _ update: ChatSessionUpdate) async throws -> ChatSessionRecord? {
        try await first(
            """
            UPDATE chat_sessions SET title = coalesce(\(update.title)::text, title), status = coalesce(\(update.status?.rawValue)::text, status),
                metadata = coalesce(\(update.metadata)::text, metadata)
            WHERE id = \(id) AND user_id = \(userID) RETURNING *
            """
        ).map(ChatSessionRecord.init(row:))
    }

    public func deleteChatSession(id: Int64, userID: Int64) async throws -> Bool {
        // The messages go with it (ON DELETE CASCADE).
        try await first("DELETE FROM chat_sessions WHERE id = \(id) AND user_id = \(userID) RETURNING id") != nil
    }

    public func appendChatMessages(sessionID: Int64, userID: Int64, _ messages: [NewChatMessage], at: Date) async throws -> ChatAppendResult? {
        try await transaction { connection in
            // Locks the session's row first, so appends to one session take turns and each
            // adds to the totals the previous one left.
            guard
                try await connection.first(
                    "SELECT id FROM chat_sessions WHERE id = \(sessionID) AND user_id = \(userID) FOR UPDATE", logger: self.logger) != nil
            else { return nil }
            var added: [ChatMessageRecord] = []
            for message in messages {
                let row = try await connection.first(
                    """
                    INSERT INTO chat_messages (session_id, role, content, message_type, tokens, cost_micros, metadata, request_id, created_at)
                    VALUES (\(sessionID), \(message.role), \(message.content), \(message.messageType), \(message.tokens), \(message.cost.micros),
                        \(message.metadata)::text, \(message.requestID)::text, \(at.unixMillis))
                    ON CONFLICT DO NOTHING RETURNING id
                    """, logger: self.logger)
                if let id = try row?.int(required: "id") {
                    added.append(ChatMessageRecord(id: id, sessionID: sessionID, message: message, createdAt: at))
                }
            }
            let tokens = added.reduce(0) { $0 + $1.message.tokens }
            let cost = added.reduce(Int64(0)) { $0 + $1.message.cost.micros }
            let session = try await connection.inserted(
                """
                UPDATE chat_sessions SET message_count = message_count + \(added.count), total_tokens = total_tokens + \(tokens),
                    total_cost_micros = total_cost_micros + \(cost), last_activity = greatest(last_activity, \(at.unixMillis))
                WHERE id = \(sessionID) RETURNING *
                """, logger: self.logger)
            return ChatAppendResult(added: added, session: try ChatSessionRecord(row: session))
        }
    }

    public func chatMessages(sessionID: Int64, userID: Int64, afterID: Int64?, limit: Int) async throws -> [ChatMessageRecord]? {
        guard try await chatSession(id: sessionID, userID: userID) != nil else { return nil }
        return try await all(
            "SELECT * FROM chat_messages WHERE session_id = \(sessionID) AND id > \(afterID ?? 0) ORDER BY id LIMIT \(limit)"
        ).map(ChatMessageRecord.init(row:))
    }
}
