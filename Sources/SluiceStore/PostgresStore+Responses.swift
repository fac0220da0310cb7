import Foundation
import PostgresNIO

extension PostgresStore {
    public func saveResponse(id: String, apiKeyID: Int64, messages: String, now: Date, expiresAt: Date) async throws {
        try await transaction { connection in
            try await connection.execute("DELETE FROM stored_responses WHERE expires_at <= \(now.unixMillis)", logger: logger)
            try await connection.execute(
                """
                INSERT INTO stored_responses (id, api_key_id, messages, created_at, expires_at)
                VALUES (\(id), \(apiKeyID), \(messages), \(now.unixMillis), \(expiresAt.unixMillis))
                ON CONFLICT (id) DO UPDATE SET messages = EXCLUDED.messages, expires_at = EXCLUDED.expires_at
                """, logger: logger)
        }
    }

    public func storedResponse(id: String, apiKeyID: Int64, now: Date) async throws -> String? {
        try await first(
            "SELECT messages FROM stored_responses WHERE id = \(id) AND api_key_id = \(apiKeyID) AND expires_at > \(now.unixMillis)"
        )?.text("messages")
    }
}
