import Foundation
import GRDB
import SluiceCore

extension SQLiteStore {
    public func createChatSession(userID: Int64, title: String, metadata: String?, at: Date) async throws -> ChatSessionRecord {
        try await pool.write { db in
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        INSERT INTO chat_sessions (user_id, title, metadata, created_at, last_activity) VALUES (?, ?, ?, ?, ?) RETURNING *
                        """, arguments: [userID, title, metadata, at.unixMillis, at.unixMillis])
            else { throw StoreDecodingError(column: "id") }
            return try ChatSessionRecord(row: row)
        }
    }

    public func chatSessions(userID: Int64, status: ChatSessionStatus?, page: PageRequest) async throws -> [ChatSessionRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT * FROM chat_sessions WHERE user_id = ? AND (? IS NULL OR status = ?) AND (? IS NULL OR id < ?)
                    ORDER BY id DESC LIMIT ? OFFSET ?
                    """,
                arguments: [userID, status?.rawValue, status?.rawValue, page.beforeID, page.beforeID, page.limit, page.offset]
            ).map(ChatSessionRecord.init(row:))
        }
    }

    public func chatSession(id: Int64, userID: Int64) async throws -> ChatSessionRecord? {
        try await pool.read { db in try Self.chatSession(db, id: id, userID: userID) }
    }

    public func updateChatSession(id: Int64, userID: Int64, _ update: ChatSessionUpdate) async throws -> ChatSessionRecord? {
        try await pool.write { db in
            try Row.fetchOne(
                db,
                sql: """
                    UPDATE chat_sessions SET title = coalesce(?, title), status = coalesce(?, status), metadata = coalesce(?, metadata)
                    WHERE id = ? AND user_id = ? RETURNING *
                    """, arguments: [update.title, update.status?.rawValue, update.metadata, id, userID]
            ).map(ChatSessionRecord.init(row:))
        }
    }

    public func deleteChatSession(id: Int64, userID: Int64) async throws -> Bool {
        try await pool.write { db in
            // The messages go with it (ON DELETE CASCADE; foreign keys are on for every connection).
            try db.execute(sql: "DELETE FROM chat_sessions WHERE id = ? AND user_id = ?", arguments: [id, userID])
            return db.changesCount > 0
        }
    }

    public func appendChatMessages(sessionID: Int64, userID: Int64, _ messages: [NewChatMessage], at: Date) async throws -> ChatAppendResult? {
        try await pool.write { db in
            guard try Self.chatSession(db, id: sessionID, userID: userID) != nil else { return nil }
            var added: [ChatMessageRecord] = []
            for message in messages {
                let id = try Int64.fetchOne(
                    db,
                    sql: """
                        INSERT INTO chat_messages (session_id, role, content, message_type, tokens, cost_micros, metadata, request_id, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id
                        """,
                    arguments: [
                        sessionID, message.role, message.content, message.messageType, message.tokens, message.cost.micros, message.metadata,
                        message.requestID, at.unixMillis,
                    ])
                if let id { added.append(ChatMessageRecord(id: id, sessionID: sessionID, message: message, createdAt: at)) }
            }
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        UPDATE chat_sessions SET message_count = message_count + ?, total_tokens = total_tokens + ?,
                            total_cost_micros = total_cost_micros + ?, last_activity = max(last_activity, ?)
                        WHERE id = ? RETURNING *
                        """,
                    arguments: [
                        added.count, added.reduce(0) { $0 + $1.message.tokens }, added.reduce(Int64(0)) { $0 + $1.message.cost.micros },
                        at.unixMillis, sessionID,
                    ])
            else { return nil }
            return ChatAppendResult(added: added, session: try ChatSessionRecord(row: row))
        }
    }

    public func chatMessages(sessionID: Int64, userID: Int64, afterID: Int64?, limit: Int) async throws -> [ChatMessageRecord]? {
        try await pool.read { db in
            guard try Self.chatSession(db, id: sessionID, userID: userID) != nil else { return nil }
            return try Row.fetchAll(
                db, sql: "SELECT * FROM chat_messages WHERE session_id = ? AND id > ? ORDER BY id LIMIT ?",
                arguments: [sessionID, afterID ?? 0, limit]
            ).map(ChatMessageRecord.init(row:))
        }
    }

    private static func chatSession(_ db: Database, id: Int64, userID: Int64) throws -> ChatSessionRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM chat_sessions WHERE id = ? AND user_id = ?", arguments: [id, userID]).map(ChatSessionRecord.init(row:))
    }
}
