import Foundation
import GRDB

extension SQLiteStore {
    public func saveResponse(id: String, apiKeyID: Int64, messages: String, now: Date, expiresAt: Date) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM stored_responses WHERE expires_at <= ?", arguments: [now.unixMillis])
            try db.execute(
                sql: "INSERT OR REPLACE INTO stored_responses (id, api_key_id, messages, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [id, apiKeyID, messages, now.unixMillis, expiresAt.unixMillis])
        }
    }

    public func storedResponse(id: String, apiKeyID: Int64, now: Date) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(
                db, sql: "SELECT messages FROM stored_responses WHERE id = ? AND api_key_id = ? AND expires_at > ?",
                arguments: [id, apiKeyID, now.unixMillis])
        }
    }
}
