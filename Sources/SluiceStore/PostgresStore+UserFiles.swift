import Foundation
import PostgresNIO
import SluiceCore

extension PostgresStore {
    public func addUserFile(_ file: NewUserFile, quotaBytes: Int64, at: Date) async throws -> UserFileAddition {
        try await transaction { connection in
            // The user's row lock makes uploads of one user take turns, so each sees the sum the
            // previous one left; uploads of different users do not wait for each other.
            _ = try await connection.first("SELECT id FROM users WHERE id = \(file.userID) FOR UPDATE", logger: self.logger)
            let used =
                try await connection.first(
                    "SELECT coalesce(sum(size_bytes), 0)::bigint AS used FROM user_files WHERE user_id = \(file.userID)", logger: self.logger)?
                .int("used") ?? 0
            guard used + file.size <= quotaBytes else { return .overQuota(usedBytes: used) }
            return .added(
                try UserFileRecord(
                    row: try await connection.inserted(
                        """
                        INSERT INTO user_files (user_id, name, content_type, size_bytes, sha256, storage_key, created_at)
                        VALUES (\(file.userID), \(file.name), \(file.contentType), \(file.size), \(file.sha256), \(file.storageKey), \(at.unixMillis))
                        RETURNING *
                        """, logger: self.logger)))
        }
    }

    public func userFiles(userID: Int64, page: PageRequest) async throws -> [UserFileRecord] {
        try await all(
            """
            SELECT * FROM user_files WHERE user_id = \(userID) AND (\(page.beforeID)::bigint IS NULL OR id < \(page.beforeID)::bigint)
            ORDER BY id DESC LIMIT \(page.limit) OFFSET \(page.offset)
            """
        ).map(UserFileRecord.init(row:))
    }

    public func userFile(id: Int64, userID: Int64) async throws -> UserFileRecord? {
        try await first("SELECT * FROM user_files WHERE id = \(id) AND user_id = \(userID)").map(UserFileRecord.init(row:))
    }

    public func deleteUserFile(id: Int64, userID: Int64) async throws -> UserFileRecord? {
        try await first("DELETE FROM user_files WHERE id = \(id) AND user_id = \(userID) RETURNING *").map(UserFileRecord.init(row:))
    }

    public func userFileBytes(userID: Int64) async throws -> Int64 {
        try await first("SELECT coalesce(sum(size_bytes), 0)::bigint AS used FROM user_files WHERE user_id = \(userID)")?.int("used") ?? 0
    }
}
