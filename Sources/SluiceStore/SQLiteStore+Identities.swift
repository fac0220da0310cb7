import Foundation
import GRDB

extension SQLiteStore {
    public func identity(provider: String, subject: String) async throws -> UserIdentity? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM user_identities WHERE provider = ? AND subject = ?", arguments: [provider, subject])
                .map(UserIdentity.init(row:))
        }
    }

    public func identities(userID: Int64) async throws -> [UserIdentity] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM user_identities WHERE user_id = ? ORDER BY created_at", arguments: [userID]).map(UserIdentity.init(row:))
        }
    }

    public func linkIdentity(_ identity: UserIdentity) async throws {
        try await pool.write { db in try Self.insert(identity, db) }
    }

    public func unlinkIdentity(provider: String, userID: Int64) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM user_identities WHERE provider = ? AND user_id = ?", arguments: [provider, userID])
            return db.changesCount > 0
        }
    }

    public func issueOneTimeToken(_ token: OneTimeToken, now: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO one_time_tokens (token_hash, purpose, user_id, payload, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [token.hash, token.purpose.rawValue, token.userID, token.payload, token.expiresAt.unixMillis, now.unixMillis])
        }
    }

    public func spendOneTimeToken(hash: String, purpose: OneTimePurpose, now: Date) async throws -> OneTimeToken? {
        try await pool.write { db in
            try Row.fetchOne(
                db,
                sql: """
                    UPDATE one_time_tokens SET used_at = ?
                    WHERE token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ? RETURNING *
                    """,
                arguments: [now.unixMillis, hash, purpose.rawValue, now.unixMillis]
            ).map(OneTimeToken.init(row:))
        }
    }

    public func liveOneTimeToken(hash: String, purpose: OneTimePurpose, now: Date) async throws -> OneTimeToken? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM one_time_tokens WHERE token_hash = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?",
                arguments: [hash, purpose.rawValue, now.unixMillis]
            ).map(OneTimeToken.init(row:))
        }
    }

    public func spendOneTimeTokens(userID: Int64, purpose: OneTimePurpose, now: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE one_time_tokens SET used_at = ? WHERE user_id = ? AND purpose = ? AND used_at IS NULL",
                arguments: [now.unixMillis, userID, purpose.rawValue])
        }
    }

    public func pruneOneTimeTokens(before: Date) async throws {
        try await pool.write { db in try db.execute(sql: "DELETE FROM one_time_tokens WHERE expires_at < ?", arguments: [before.unixMillis]) }
    }

    public func markEmailVerified(userID: Int64, at: Date) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE users SET email_verified_at = coalesce(email_verified_at, ?) WHERE id = ?", arguments: [at.unixMillis, userID])
        }
    }

    public func changeEmail(userID: Int64, to email: String, at: Date) async throws {
        try await pool.write { db in
            if try Int.fetchOne(db, sql: "SELECT 1 FROM users WHERE email = ? COLLATE NOCASE AND id <> ?", arguments: [email, userID]) != nil {
                throw StoreConflict(field: "email")
            }
            try db.execute(sql: "UPDATE users SET email = ?, email_verified_at = ? WHERE id = ?", arguments: [email, at.unixMillis, userID])
        }
    }

    public func setPasswordHash(userID: Int64, _ hash: String) async throws {
        try await pool.write { db in try db.execute(sql: "UPDATE users SET password_hash = ? WHERE id = ?", arguments: [hash, userID]) }
    }

    public func createUser(_ user: NewUser, emailVerified: Bool, identity: UserIdentity) async throws -> Int64 {
        try await pool.write { db in
            if try Int.fetchOne(db, sql: "SELECT 1 FROM users WHERE email = ? COLLATE NOCASE", arguments: [user.email]) != nil {
                throw StoreConflict(field: "email")
            }
            let now = Date().unixMillis
            try db.execute(
                sql: "INSERT INTO users (email, role, plan, balance_micros, created_at, email_verified_at) VALUES (?, ?, ?, 0, ?, ?)",
                arguments: [user.email, user.role.rawValue, user.plan, now, emailVerified ? now : nil])
            let id = db.lastInsertedRowID
            var linked = identity
            linked.userID = id
            try Self.insert(linked, db)
            return id
        }
    }

    private static func insert(_ identity: UserIdentity, _ db: Database) throws {
        if try Int.fetchOne(
            db, sql: "SELECT 1 FROM user_identities WHERE provider = ? AND subject = ?", arguments: [identity.provider, identity.subject]) != nil {
            throw StoreConflict(field: "identity")
        }
        try db.execute(
            sql: "INSERT INTO user_identities (provider, subject, user_id, email, created_at) VALUES (?, ?, ?, ?, ?)",
            arguments: [identity.provider, identity.subject, identity.userID, identity.email, identity.createdAt.unixMillis])
    }

    // MARK: Mail outbox

    public func enqueueMail(_ mail: OutgoingMail, limit: Int, now: Date) async throws -> Bool {
        try await pool.write { db in
            let waiting = try Int.fetchOne(db, sql: "SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL") ?? 0
            guard waiting < limit else { return false }
            try db.execute(
                sql: "INSERT INTO mail_outbox (recipient, subject, body, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [mail.recipient, mail.subject, mail.body, now.unixMillis, now.unixMillis])
            return true
        }
    }

    public func claimDueMail(now: Date, until: Date, limit: Int) async throws -> [QueuedMail] {
        try await pool.write { db in
            try Row.fetchAll(
                db,
                sql: """
                    UPDATE mail_outbox SET leased_until = ?, attempts = attempts + 1
                    WHERE id IN (
                        SELECT id FROM mail_outbox
                        WHERE sent_at IS NULL AND failed_at IS NULL AND next_attempt_at <= ? AND (leased_until IS NULL OR leased_until <= ?)
                        ORDER BY id LIMIT ?)
                    RETURNING *
                    """,
                arguments: [until.unixMillis, now.unixMillis, now.unixMillis, limit]
            ).map(QueuedMail.init(row:)).sorted { $0.id < $1.id }
        }
    }

    public func finishMail(id: Int64, _ outcome: MailOutcome) async throws {
        try await pool.write { db in
            switch outcome {
            case .sent(let at):
                try db.execute(sql: "UPDATE mail_outbox SET sent_at = ?, body = '', leased_until = NULL, last_error = NULL WHERE id = ?", arguments: [at.unixMillis, id])
            case .retry(let error, let at):
                try db.execute(
                    sql: "UPDATE mail_outbox SET next_attempt_at = ?, leased_until = NULL, last_error = ? WHERE id = ?", arguments: [at.unixMillis, error, id])
            case .failed(let error, let at):
                try db.execute(
                    sql: "UPDATE mail_outbox SET failed_at = ?, body = '', leased_until = NULL, last_error = ? WHERE id = ?", arguments: [at.unixMillis, error, id])
            }
        }
    }

    public func waitingMailCount() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM mail_outbox WHERE sent_at IS NULL AND failed_at IS NULL") ?? 0 }
    }
}
