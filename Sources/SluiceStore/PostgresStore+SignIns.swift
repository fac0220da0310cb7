import Foundation
import PostgresNIO

extension PostgresStore {
    public func recordSignIn(_ signIn: SignInRecord) async throws {
        try await execute(
            """
            INSERT INTO sign_ins (family_id, user_id, device, address, created_at, last_used_at)
            VALUES (\(signIn.familyID), \(signIn.userID), \(signIn.device), \(signIn.address)::text, \(signIn.createdAt.unixMillis),
                \(signIn.lastUsedAt.unixMillis))
            """)
    }

    public func touchSignIn(familyID: String, address: String?, at: Date) async throws {
        try await execute(
            "UPDATE sign_ins SET last_used_at = \(at.unixMillis), address = coalesce(\(address)::text, address) WHERE family_id = \(familyID)")
    }

    public func liveSignIns(userID: Int64, now: Date) async throws -> [SignInRecord] {
        var binds = PostgresBindings()
        binds.append(userID, context: .default)
        binds.append(now.unixMillis, context: .default)
        return try await all(PostgresQuery(unsafeSQL: SignInQueries.live(placeholders: ["$1", "$2"]), binds: binds)).map(SignInRecord.init(row:))
    }

    public func endSignIn(familyID: String, userID: Int64, at: Date) async throws -> Bool {
        try await transaction { connection in
            let revoked = try await connection.all(
                """
                UPDATE refresh_tokens SET revoked_at = \(at.unixMillis)
                WHERE family_id = \(familyID) AND user_id = \(userID) AND revoked_at IS NULL RETURNING id
                """, logger: self.logger)
            guard !revoked.isEmpty else { return false }
            try await connection.query(
                "UPDATE sign_ins SET ended_at = \(at.unixMillis) WHERE family_id = \(familyID) AND ended_at IS NULL", logger: self.logger)
            return true
        }
    }
}
