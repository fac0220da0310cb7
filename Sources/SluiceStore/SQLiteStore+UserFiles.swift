import Foundation
import GRDB
import SluiceCore

extension SQLiteStore {
    public func addUserFile(_ file: NewUserFile, quotaBytes: Int64, at: Date) async throws -> UserFileAddition {
        // SQLite runs one write at a time, so the sum read here is still the sum at the insert.
        try await pool.write { db in
            let used = try Int64.fetchOne(db, sql: "SELECT coalesce(sum(size_bytes), 0) FROM user_files WHERE user_id = ?", arguments: [file.userID]) ?? 0
            guard used + file.size <= quotaBytes else { return .overQuota(usedBytes: used) }
            guard
                let row = try Row.fetchOne(
                    db,
                    sql: """
                        INSERT INTO user_files (user_id, name, content_type, size_bytes, sha256, storage_key, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *
                        """,
                    arguments: [file.userID, file.name, file.contentType, file.size, file.sha256, file.storageKey, at.unixMillis])
            else { throw StoreDecodingError(column: "id") }
            return .added(try UserFileRecord(row: row))
        }
    }

    public func userFiles(userID: Int64, page: PageRequest) async throws -> [UserFileRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: "SELECT * FROM user_files WHERE user_id = ? AND (? IS NULL OR id < ?) ORDER BY id DESC LIMIT ? OFFSET ?",
                arguments: [userID, page.beforeID, page.beforeID, page.limit, page.offset]
            ).map(UserFileRecord.init(row:))
        }
    }

    public func userFile(id: Int64, userID: Int64) async throws -> UserFileRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM user_files WHERE id = ? AND user_id = ?", arguments: [id, userID]).map(UserFileRecord.init(row:))
        }
    }

    public func deleteUserFile(id: Int64, userID: Int64) async throws -> UserFileRecord? {
        try await pool.write { db in
            try Row.fetchOne(db, sql: "DELETE FROM user_files WHERE id = ? AND user_id = ? RETURNING *", arguments: [id, userID])
                .map(UserFileRecord.init(row:))
        }
    }

    public func userFileBytes(userID: Int64) async throws -> Int64 {
        try await pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT coalesce(sum(size_bytes), 0) FROM user_files WHERE user_id = ?", arguments: [userID]) ?? 0
        }
    }
}
