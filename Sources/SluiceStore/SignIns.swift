import Foundation

/// A sign-in as its user sees it in their list: where and on what it began, and when it was
/// last used.
public struct SignInRecord: Sendable, Equatable {
    public var familyID: String
    public var userID: Int64
    /// The User-Agent it began with, shortened.
    public var device: String
    public var address: String?
    public var createdAt: Date
    public var lastUsedAt: Date

    public init(familyID: String, userID: Int64, device: String, address: String?, createdAt: Date, lastUsedAt: Date) {
        self.familyID = familyID
        self.userID = userID
        self.device = device
        self.address = address
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
    }
}

/// The list of sign-ins. Whether one stands is still `SessionStore`'s refresh tokens' to say:
/// these rows only describe them, and every way a sign-in ends revokes its tokens.
public protocol SignInStore: Sendable {
    func recordSignIn(_ signIn: SignInRecord) async throws
    /// A use of the sign-in, from `address`.
    func touchSignIn(familyID: String, address: String?, at: Date) async throws
    /// The user's sign-ins that still stand (a live, unexpired refresh token), last used first.
    func liveSignIns(userID: Int64, now: Date) async throws -> [SignInRecord]
    /// Ends one of the user's sign-ins: false when it is not theirs or has already ended.
    func endSignIn(familyID: String, userID: Int64, at: Date) async throws -> Bool
}

extension SignInRecord {
    init(row: some StoreRow) throws {
        self.init(
            familyID: try row.text(required: "family_id"), userID: try row.int(required: "user_id"), device: try row.text(required: "device"),
            address: try row.text("address"), createdAt: try row.date(required: "created_at"), lastUsedAt: try row.date(required: "last_used_at"))
    }
}

/// The query both stores share, with each one's placeholders (user id, now).
enum SignInQueries {
    static func live(placeholders p: [String]) -> String {
        """
        SELECT s.* FROM sign_ins s
        WHERE s.user_id = \(p[0]) AND s.ended_at IS NULL AND EXISTS (
            SELECT 1 FROM refresh_tokens r
            WHERE r.family_id = s.family_id AND r.revoked_at IS NULL AND r.used_at IS NULL AND r.expires_at > \(p[1]))
        ORDER BY s.last_used_at DESC LIMIT 100
        """
    }
}
