import Foundation
import GRDB
import SluiceCore

extension SQLiteStore {
    public func storeRefreshToken(userID: Int64, familyID: String, tokenHash: String, expiresAt: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [userID, familyID, tokenHash, expiresAt.unixMillis, Date().unixMillis])
        }
    }

    public func rotateRefreshToken(tokenHash: String, successorHash: String, expiresAt: Date, now: Date) async throws -> RefreshRotation {
        try await pool.write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM refresh_tokens WHERE token_hash = ?", arguments: [tokenHash]) else {
                return .invalid
            }
            let userID: Int64 = row["user_id"]
            let familyID: String = row["family_id"]
            if (row["revoked_at"] as Int64?) != nil { return .invalid }
            if (row["used_at"] as Int64?) != nil {
                // A used token came back: someone holds a copy. Cut off every token of this sign-in.
                try db.execute(
                    sql: "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL",
                    arguments: [now.unixMillis, familyID])
                return .reused(userID: userID, familyID: familyID)
            }
            guard (row["expires_at"] as Int64) > now.unixMillis else { return .invalid }
            try db.execute(sql: "UPDATE refresh_tokens SET used_at = ? WHERE id = ?", arguments: [now.unixMillis, row["id"] as Int64])
            try db.execute(
                sql: "INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [userID, familyID, successorHash, expiresAt.unixMillis, now.unixMillis])
            return .rotated(userID: userID, familyID: familyID)
        }
    }

    public func revokeSession(familyID: String) async throws {
        let now = Date().unixMillis
        try await pool.write { db in
            try db.execute(sql: "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL", arguments: [now, familyID])
            try db.execute(sql: "UPDATE sign_ins SET ended_at = ? WHERE family_id = ? AND ended_at IS NULL", arguments: [now, familyID])
        }
    }

    public func revokeAllSessions(userID: Int64) async throws {
        let now = Date().unixMillis
        try await pool.write { db in
            try db.execute(sql: "UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", arguments: [now, userID])
            try db.execute(sql: "UPDATE sign_ins SET ended_at = ? WHERE user_id = ? AND ended_at IS NULL", arguments: [now, userID])
        }
    }

    public func sessionIsLive(familyID: String) async throws -> Bool {
        try await pool.read { db in
            try Int.fetchOne(db, sql: "SELECT 1 FROM refresh_tokens WHERE family_id = ? AND revoked_at IS NULL LIMIT 1", arguments: [familyID]) != nil
        }
    }

    // MARK: Activity

    public func logActivity(_ entry: ActivityEntry) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO activity_log (user_id, actor_id, action, detail, ip, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [entry.userID, entry.actorID, entry.action, entry.detail, entry.ip, entry.createdAt.unixMillis])
        }
    }

    public func activity(userID: Int64, page: PageRequest) async throws -> [ActivityEntry] {
        try await pool.read { db in
            var arguments: StatementArguments = [userID]
            let sql = "SELECT * FROM activity_log WHERE user_id = ?" + Self.paging(page, arguments: &arguments)
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map(ActivityEntry.init(row:))
        }
    }
}
