import Foundation
import PostgresNIO
import SluiceCore

extension PostgresStore {
    public func storeRefreshToken(userID: Int64, familyID: String, tokenHash: String, expiresAt: Date) async throws {
        try await execute(
            """
            INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at, created_at)
            VALUES (\(userID), \(familyID), \(tokenHash), \(expiresAt.unixMillis), \(Date().unixMillis))
            """)
    }

    public func rotateRefreshToken(tokenHash: String, successorHash: String, expiresAt: Date, now: Date) async throws -> RefreshRotation {
        try await transaction { connection in
            // FOR UPDATE: two instances given the same token at once cannot both rotate it; the
            // second sees it used, which is what a copied token looks like.
            guard let row = try await connection.first(
                "SELECT * FROM refresh_tokens WHERE token_hash = \(tokenHash) FOR UPDATE", logger: logger)
            else { return .invalid }
            let userID = try row.int(required: "user_id")
            let familyID = try row.text(required: "family_id")
            if try row.int("revoked_at") != nil { return .invalid }
            if try row.int("used_at") != nil {
                // A used token came back: someone holds a copy. Cut off every token of this sign-in.
                try await connection.execute(
                    "UPDATE refresh_tokens SET revoked_at = \(now.unixMillis) WHERE family_id = \(familyID) AND revoked_at IS NULL",
                    logger: logger)
                return .reused(userID: userID, familyID: familyID)
            }
            guard try row.int(required: "expires_at") > now.unixMillis else { return .invalid }
            try await connection.execute(
                "UPDATE refresh_tokens SET used_at = \(now.unixMillis) WHERE id = \(try row.int(required: "id"))", logger: logger)
            try await connection.execute(
                """
                INSERT INTO refresh_tokens (user_id, family_id, token_hash, expires_at, created_at)
                VALUES (\(userID), \(familyID), \(successorHash), \(expiresAt.unixMillis), \(now.unixMillis))
                """, logger: logger)
            return .rotated(userID: userID, familyID: familyID)
        }
    }

    public func revokeSession(familyID: String) async throws {
        let now = Date().unixMillis
        try await transaction { connection in
            try await connection.query(
                "UPDATE refresh_tokens SET revoked_at = \(now) WHERE family_id = \(familyID) AND revoked_at IS NULL", logger: self.logger)
            try await connection.query("UPDATE sign_ins SET ended_at = \(now) WHERE family_id = \(familyID) AND ended_at IS NULL", logger: self.logger)
        }
    }

    public func revokeAllSessions(userID: Int64) async throws {
        let now = Date().unixMillis
        try await transaction { connection in
            try await connection.query(
                "UPDATE refresh_tokens SET revoked_at = \(now) WHERE user_id = \(userID) AND revoked_at IS NULL", logger: self.logger)
            try await connection.query("UPDATE sign_ins SET ended_at = \(now) WHERE user_id = \(userID) AND ended_at IS NULL", logger: self.logger)
        }
    }

    public func sessionIsLive(familyID: String) async throws -> Bool {
        try await first("SELECT 1 FROM refresh_tokens WHERE family_id = \(familyID) AND revoked_at IS NULL LIMIT 1") != nil
    }

    // MARK: Activity

    public func logActivity(_ entry: ActivityEntry) async throws {
        try await execute(
            """
            INSERT INTO activity_log (user_id, actor_id, action, detail, ip, created_at)
            VALUES (\(entry.userID), \(entry.actorID)::bigint, \(entry.action), \(entry.detail)::text, \(entry.ip)::text,
                \(entry.createdAt.unixMillis))
            """)
    }

    public func activity(userID: Int64, page: PageRequest) async throws -> [ActivityEntry] {
        var query = PostgresQueryBuilder("SELECT * FROM activity_log WHERE user_id = ")
        query.bind(userID)
        query.page(page)
        return try await all(query.query).map(ActivityEntry.init(row:))
    }
}
