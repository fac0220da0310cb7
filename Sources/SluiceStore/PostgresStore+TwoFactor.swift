import Foundation
import PostgresNIO

extension PostgresStore {
    public func totp(userID: Int64) async throws -> TOTPRecord? {
        try await first("SELECT * FROM user_totp WHERE user_id = \(userID)").map(TOTPRecord.init(row:))
    }

    public func savePendingTOTP(userID: Int64, secret: SealedSecret) async throws -> Bool {
        let saved = try await all(
            """
            INSERT INTO user_totp (user_id, secret_ciphertext, secret_key_version)
            VALUES (\(userID), \(secret.ciphertext), \(secret.keyVersion))
            ON CONFLICT (user_id) DO UPDATE SET secret_ciphertext = excluded.secret_ciphertext,
                secret_key_version = excluded.secret_key_version, last_step = NULL
            WHERE user_totp.enabled_at IS NULL
            RETURNING user_id
            """)
        return !saved.isEmpty
    }

    public func enableTOTP(userID: Int64, step: Int64, recoveryHashes: [String], at: Date) async throws -> Bool {
        try await transaction { connection in
            let enabled = try await connection.all(
                """
                UPDATE user_totp SET enabled_at = \(at.unixMillis), last_step = \(step)
                WHERE user_id = \(userID) AND enabled_at IS NULL RETURNING user_id
                """, logger: self.logger)
            guard !enabled.isEmpty else { return false }
            try await connection.query("DELETE FROM recovery_codes WHERE user_id = \(userID)", logger: self.logger)
            for hash in recoveryHashes {
                try await connection.query("INSERT INTO recovery_codes (user_id, code_hash) VALUES (\(userID), \(hash))", logger: self.logger)
            }
            return true
        }
    }

    public func useTOTPStep(userID: Int64, step: Int64) async throws -> Bool {
        try await !all(
            """
            UPDATE user_totp SET last_step = \(step)
            WHERE user_id = \(userID) AND enabled_at IS NOT NULL AND (last_step IS NULL OR last_step < \(step)) RETURNING user_id
            """
        ).isEmpty
    }

    public func useRecoveryCode(userID: Int64, hash: String, at: Date) async throws -> Bool {
        try await !all(
            """
            UPDATE recovery_codes SET used_at = \(at.unixMillis)
            WHERE user_id = \(userID) AND code_hash = \(hash) AND used_at IS NULL RETURNING user_id
            """
        ).isEmpty
    }

    public func disableTOTP(userID: Int64) async throws {
        try await transaction { connection in
            try await connection.query("DELETE FROM recovery_codes WHERE user_id = \(userID)", logger: self.logger)
            try await connection.query("DELETE FROM user_totp WHERE user_id = \(userID)", logger: self.logger)
        }
    }
}
