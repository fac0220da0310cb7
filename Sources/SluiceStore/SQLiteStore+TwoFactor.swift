import Foundation
import GRDB

extension SQLiteStore {
    public func totp(userID: Int64) async throws -> TOTPRecord? {
        try await pool.read { db in try Row.fetchOne(db, sql: "SELECT * FROM user_totp WHERE user_id = ?", arguments: [userID]).map(TOTPRecord.init(row:)) }
    }

    public func savePendingTOTP(userID: Int64, secret: SealedSecret) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO user_totp (user_id, secret_ciphertext, secret_key_version) VALUES (?, ?, ?)
                    ON CONFLICT (user_id) DO UPDATE SET secret_ciphertext = excluded.secret_ciphertext,
                        secret_key_version = excluded.secret_key_version, last_step = NULL
                    WHERE user_totp.enabled_at IS NULL
                    """,
                arguments: [userID, secret.ciphertext, secret.keyVersion])
            return db.changesCount > 0
        }
    }

    public func enableTOTP(userID: Int64, step: Int64, recoveryHashes: [String], at: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE user_totp SET enabled_at = ?, last_step = ? WHERE user_id = ? AND enabled_at IS NULL",
                arguments: [at.unixMillis, step, userID])
            guard db.changesCount > 0 else { return false }
            try db.execute(sql: "DELETE FROM recovery_codes WHERE user_id = ?", arguments: [userID])
            for hash in recoveryHashes {
                try db.execute(sql: "INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)", arguments: [userID, hash])
            }
            return true
        }
    }

    public func useTOTPStep(userID: Int64, step: Int64) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE user_totp SET last_step = ? WHERE user_id = ? AND enabled_at IS NOT NULL AND (last_step IS NULL OR last_step < ?)",
                arguments: [step, userID, step])
            return db.changesCount > 0
        }
    }

    public func useRecoveryCode(userID: Int64, hash: String, at: Date) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE recovery_codes SET used_at = ? WHERE user_id = ? AND code_hash = ? AND used_at IS NULL", arguments: [at.unixMillis, userID, hash])
            return db.changesCount > 0
        }
    }

    public func disableTOTP(userID: Int64) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM recovery_codes WHERE user_id = ?", arguments: [userID])
            try db.execute(sql: "DELETE FROM user_totp WHERE user_id = ?", arguments: [userID])
        }
    }
}
