import Foundation
import PostgresNIO

extension PostgresStore {
    public func identity(provider: String, subject: String) async throws -> UserIdentity? {
        try await first("SELECT * FROM user_identities WHERE provider = \(provider) AND subject = \(subject)").map(UserIdentity.init(row:))
    }

    public func identities(userID: Int64) async throws -> [UserIdentity] {
        try await all("SELECT * FROM user_identities WHERE user_id = \(userID) ORDER BY created_at").map(UserIdentity.init(row:))
    }

    public func linkIdentity(_ identity: UserIdentity) async throws {
        do {
            try await execute(
                """
                INSERT INTO user_identities (provider, subject, user_id, email, created_at)
                VALUES (\(identity.provider), \(identity.subject), \(identity.userID), \(identity.email), \(identity.createdAt.unixMillis))
                """)
        } catch where isUniqueViolation(error) {
            throw StoreConflict(field: "identity")
        }
    }

    public func unlinkIdentity(provider: String, userID: Int64) async throws -> Bool {
        try await !all("DELETE FROM user_identities WHERE provider = \(provider) AND user_id = \(userID) RETURNING subject").isEmpty
    }

    public func issueOneTimeToken(_ token: OneTimeToken, now: Date) async throws {
        try await execute(
            """
            INSERT INTO one_time_tokens (token_hash, purpose, user_id, payload, expires_at, created_at)
            VALUES (\(token.hash), \(token.purpose.rawValue), \(token.userID), \(token.payload), \(token.expiresAt.unixMillis), \(now.unixMillis))
            """)
    }

    public func spendOneTimeToken(hash: String, purpose: OneTimePurpose, now: Date) async throws -> OneTimeToken? {
        try await first(
            """
            UPDATE one_time_tokens SET used_at = \(now.unixMillis)
            WHERE token_hash = \(hash) AND purpose = \(purpose.rawValue) AND used_at IS NULL AND expires_at > \(now.unixMillis) RETURNING *
            """
        ).map(OneTimeToken.init(row:))
    }

    public func liveOneTimeToken(hash: String, purpose: OneTimePurpose, now: Date) async throws -> OneTimeToken? {
        try await first(
            """
            SELECT * FROM one_time_tokens
            WHERE token_hash = \(hash) AND purpose = \(purpose.rawValue) AND used_at IS NULL AND expires_at > \(now.unixMillis)
            """
        ).map(OneTimeToken.init(row:))
    }

    public func spendOneTimeTokens(userID: Int64, purpose: OneTimePurpose, now: Date) async throws {
        try await execute(
            """
            UPDATE one_time_tokens SET used_at = \(now.unixMillis) WHERE user_id = \(userID) AND purpose = \(purpose.rawValue) AND used_at IS NULL
            """)
    }

    public func pruneOneTimeTokens(before: Date) async throws {
        try await execute("DELETE FROM one_time_tokens WHERE expires_at < \(before.unixMillis)")
    }

    public func markEmailVerified(userID: Int64, at: Date) async throws {
        try await execute("UPDATE users SET email_verified_at = coalesce(email_verified_at, \(at.unixMillis)) WHERE id = \(userID)")
    }

    public func changeEmail(userID: Int64, to email: String, at: Date) async throws {
        do {
            try await execute("UPDATE users SET email = \(email), email_verified_at = \(at.unixMillis) WHERE id = \(userID)")
        } catch where isUniqueViolation(error) {
            throw StoreConflict(field: "email")
        }
    }

    public func setPasswordHash(userID: Int64, _ hash: String) async throws {
        try await execute("UPDATE users SET password_hash = \(hash) WHERE id = \(userID)")
    }

    public func createUser(_ user: NewUser, emailVerified: Bool, identity: UserIdentity) async throws -> Int64 {
        do {
            return try await transaction { connection in
                let now = Date().unixMillis
                let verifiedAt: Int64? = emailVerified ? now : nil
                let id = try await connection.inserted(
                    """
                    INSERT INTO users (email, role, plan, balance_micros, created_at, email_verified_at)
                    VALUES (\(user.email), \(user.role.rawValue), \(user.plan), 0, \(now), \(verifiedAt)) RETURNING id
                    """, logger: logger
                ).int(required: "id")
                try await connection.execute(
                    """
                    INSERT INTO user_identities (provider, subject, user_id, email, created_at)
                    VALUES (\(identity.provider), \(identity.subject), \(id), \(identity.email), \(identity.createdAt.unixMillis))
                    """, logger: logger)
                return id
            }
        } catch where isUniqueViolation(error) {
            // Which index broke says which it was; the caller treats both as "taken".
            let table = (error as? PSQLError)?.serverInfo?[.tableName]
            throw StoreConflict(field: table == "user_identities" ? "identity" : "email")
        }
    }

    // MARK: Mail outbox

    public func enqueueMail(_ mail: OutgoingMail, limit: Int, now: Date) async throws -> Bool {
        // One statement: the count and the insert see the same snapshot, so the bound holds
        // within a few mails even when instances enqueue at once.
        try await !all(
            """
            INSERT INTO mail_outbox (recipient, subject, body, next_attempt_at, created_at)
            SELECT \(mail.recipient), \(mail.subject), \(mail.body), \(now.unixMillis), \(now.unixMillis)
            WHERE (SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL) < \(limit)
            RETURNING id
            """
        ).isEmpty
    }

    public func claimDueMail(now: Date, until: Date, limit: Int) async throws -> [QueuedMail] {
        try await all(
            """
            UPDATE mail_outbox SET leased_until = \(until.unixMillis), attempts = attempts + 1
            WHERE id IN (
                SELECT id FROM mail_outbox
                WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= \(now.unixMillis)
                    AND (leased_until IS NULL OR leased_until <= \(now.unixMillis))
                ORDER BY id LIMIT \(limit) FOR UPDATE SKIP LOCKED)
            RETURNING *
            """
        ).map(QueuedMail.init(row:)).sorted { $0.id < $1.id }
    }

    public func finishMail(id: Int64, _ outcome: MailOutcome) async throws {
        switch outcome {
        case .sent(let at):
            try await execute("UPDATE mail_outbox SET sent_at = \(at.unixMillis), body = '', leased_until = NULL, last_error = NULL WHERE id = \(id)")
        case .retry(let error, let at):
            try await execute("UPDATE mail_outbox SET next_attempt_at = \(at.unixMillis), leased_until = NULL, last_error = \(error) WHERE id = \(id)")
        case .failed(let error, let at):
            try await execute("UPDATE mail_outbox SET failed_at = \(at.unixMillis), body = '', leased_until = NULL, last_error = \(error) WHERE id = \(id)")
        }
    }

    public func waitingMailCount() async throws -> Int {
        Int(try await first("SELECT count(*) AS n FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL")?.int(required: "n") ?? 0)
    }
}
