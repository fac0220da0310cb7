import Foundation
import GRDB

extension SQLiteStore {
    public func recordSignIn(_ signIn: SignInRecord) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO sign_ins (family_id, user_id, device, address, created_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [
                    signIn.familyID, signIn.userID, signIn.device, signIn.address, signIn.createdAt.unixMillis, signIn.lastUsedAt.unixMillis,
                ])
        }
    }

    public func touchSignIn(familyID: String, address: String?, at: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE sign_ins SET last_used_at = ?, address = coalesce(?, address) WHERE family_id = ?",
                arguments: [at.unixMillis, address, familyID])
        }
    }

    public func liveSignIns(userID: Int64, now: Date) async throws -> [SignInRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: SignInQueries.live(placeholders: ["?", "?"]), arguments: [userID, now.unixMillis]).map(SignInRecord.init(row:))
        }
    }

    public func endSignIn(familyID: String, userID: Int64, at: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND user_id = ? AND revoked_at IS NULL",
                arguments: [at.unixMillis, familyID, userID])
            guard db.changesCount > 0 else { return false }
            try db.execute(sql: "UPDATE sign_ins SET ended_at = ? WHERE family_id = ? AND ended_at IS NULL", arguments: [at.unixMillis, familyID])
            return true
        }
    }
}
