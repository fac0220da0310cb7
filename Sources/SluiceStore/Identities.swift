import Foundation

/// A user's account at an SSO provider.
public struct UserIdentity: Sendable, Equatable {
    public var provider: String
    /// The provider's stable id for the account (`sub`, GitHub's numeric id).
    public var subject: String
    public var userID: Int64
    /// The address the provider gave when the identity was linked, for the user's list.
    public var email: String?
    public var createdAt: Date

    public init(provider: String, subject: String, userID: Int64, email: String?, createdAt: Date) {
        self.provider = provider
        self.subject = subject
        self.userID = userID
        self.email = email
        self.createdAt = createdAt
    }
}

/// What a single-use token is for. The purpose is part of the lookup, so a reset token cannot be
/// spent as a verification token.
public enum OneTimePurpose: String, Sendable, CaseIterable {
    /// An SSO sign-in between initiate and callback; the payload holds nonce and PKCE verifier.
    case ssoState = "sso_state"
    /// An SSO sign-in waiting for the user's second factor.
    case twoFactorTicket = "two_factor_ticket"
    case verifyEmail = "verify_email"
    case resetPassword = "reset_password"
    /// The payload holds the new address.
    case changeEmail = "change_email"
}

/// A single-use token as stored: the hash of its secret, never the secret.
public struct OneTimeToken: Sendable, Equatable {
    public var hash: String
    public var purpose: OneTimePurpose
    public var userID: Int64?
    /// A JSON object, the purpose's own.
    public var payload: String
    public var expiresAt: Date

    public init(hash: String, purpose: OneTimePurpose, userID: Int64?, payload: String = "{}", expiresAt: Date) {
        self.hash = hash
        self.purpose = purpose
        self.userID = userID
        self.payload = payload
        self.expiresAt = expiresAt
    }
}

/// SSO identities, single-use tokens, and the user fields that mail and SSO change. Spending a
/// token is one statement that sets `used_at` only where it is unset and unexpired, so two
/// instances, or two clicks, cannot both spend one.
public protocol IdentityStore: Sendable {
    func identity(provider: String, subject: String) async throws -> UserIdentity?
    func identities(userID: Int64) async throws -> [UserIdentity]
    /// Throws `StoreConflict` when the provider's account is linked to a user already.
    func linkIdentity(_ identity: UserIdentity) async throws
    /// False when the user had no such identity.
    func unlinkIdentity(provider: String, userID: Int64) async throws -> Bool

    func issueOneTimeToken(_ token: OneTimeToken, now: Date) async throws
    /// The token, marked used, when it exists with this purpose, is unused and has not expired.
    func spendOneTimeToken(hash: String, purpose: OneTimePurpose, now: Date) async throws -> OneTimeToken?
    /// The same check without spending it, for a link that is looked at before it is used.
    func liveOneTimeToken(hash: String, purpose: OneTimePurpose, now: Date) async throws -> OneTimeToken?
    /// Marks every unspent token of the user with this purpose used: a newer reset ends older links.
    func spendOneTimeTokens(userID: Int64, purpose: OneTimePurpose, now: Date) async throws
    /// Removes tokens that expired before `before`.
    func pruneOneTimeTokens(before: Date) async throws

    func markEmailVerified(userID: Int64, at: Date) async throws
    /// The user's new, verified address. Throws `StoreConflict` when another user has it now.
    func changeEmail(userID: Int64, to email: String, at: Date) async throws
    func setPasswordHash(userID: Int64, _ hash: String) async throws
    /// A user made by an SSO sign-in: no password, the email verified when the provider said so,
    /// and the identity linked, in one transaction. Throws `StoreConflict` for a taken email or
    /// an identity that is linked already.
    func createUser(_ user: NewUser, emailVerified: Bool, identity: UserIdentity) async throws -> Int64
}

/// A mail to send.
public struct OutgoingMail: Sendable, Equatable {
    public var recipient: String
    public var subject: String
    /// Plain text.
    public var body: String

    public init(recipient: String, subject: String, body: String) {
        self.recipient = recipient
        self.subject = subject
        self.body = body
    }
}

public struct QueuedMail: Sendable, Equatable {
    public var id: Int64
    public var mail: OutgoingMail
    public var attempts: Int
    public var createdAt: Date
}

public enum MailOutcome: Sendable, Equatable {
    case sent(at: Date)
    case retry(error: String, at: Date)
    case failed(error: String, at: Date)
}

/// The mail outbox: requests add to it, the mail sender drains it. Bounded: a full outbox refuses
/// new mail rather than growing without end while the SMTP server is away. A mail's body, which
/// holds a live link, is erased once it is sent or given up on; recipient and subject stay.
public protocol MailOutboxStore: Sendable {
    /// False, with nothing written, when `limit` mails are waiting already.
    func enqueueMail(_ mail: OutgoingMail, limit: Int, now: Date) async throws -> Bool
    /// Due mail, oldest first, leased until `until` so another instance does not send it too.
    func claimDueMail(now: Date, until: Date, limit: Int) async throws -> [QueuedMail]
    func finishMail(id: Int64, _ outcome: MailOutcome) async throws
    /// Mail neither sent nor given up on.
    func waitingMailCount() async throws -> Int
}

extension UserIdentity {
    init(row: some StoreRow) throws {
        self.init(
            provider: try row.text(required: "provider"), subject: try row.text(required: "subject"), userID: try row.int(required: "user_id"),
            email: try row.text("email"), createdAt: try row.date(required: "created_at"))
    }
}

extension OneTimeToken {
    init(row: some StoreRow) throws {
        guard let purpose = OneTimePurpose(rawValue: try row.text(required: "purpose")) else { throw StoreDecodingError(column: "purpose") }
        self.init(
            hash: try row.text(required: "token_hash"), purpose: purpose, userID: try row.int("user_id"), payload: try row.text(required: "payload"),
            expiresAt: try row.date(required: "expires_at"))
    }
}

extension QueuedMail {
    init(row: some StoreRow) throws {
        self.init(
            id: try row.int(required: "id"),
            mail: OutgoingMail(recipient: try row.text(required: "recipient"), subject: try row.text(required: "subject"), body: try row.text(required: "body")),
            attempts: Int(try row.int(required: "attempts")), createdAt: try row.date(required: "created_at"))
    }
}
