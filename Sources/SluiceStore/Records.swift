import Foundation
import SluiceCore

public enum UserStatus: String, Sendable, Codable {
    case active, disabled, muted
}

public struct UserRecord: Sendable, Equatable {
    public var id: Int64
    public var email: String
    public var status: UserStatus
    public var balance: Credits
}

/// An API key as the gateway sees it, with the owner's status joined in so that one lookup
/// answers both "is this key valid" and "may this user call".
public struct APIKeyRecord: Sendable, Equatable {
    public var id: Int64
    public var userID: Int64
    public var name: String
    public var prefix: String
    /// nil allows every model.
    public var allowedModels: [String]?
    public var expiresAt: Date?
    public var revokedAt: Date?
    public var userStatus: UserStatus

    public func isUsable(at now: Date) -> Bool {
        revokedAt == nil && (expiresAt.map { $0 > now } ?? true)
    }
}

public enum AccountKind: String, Sendable, Codable, CaseIterable {
    case apiKey = "api-key"
    case cookie
}

public struct AccountRecord: Sendable, Equatable {
    public var id: Int64
    public var provider: String
    public var kind: AccountKind
    public var baseURL: String?
    /// Empty serves every model the provider's manifest lists.
    public var models: [String]
    public var priority: Int
    public var weight: Int
    public var ownerUserID: Int64?
    public var secret: SealedSecret
    public var enabled: Bool
    /// The provider rejected the credential for good; out of rotation until the secret changes.
    public var needsReauth: Bool = false
}

/// What one settled request leaves behind: a consume entry (when it cost anything) and a usage row.
public struct UsageRecord: Sendable, Equatable {
    public var requestID: String
    public var userID: Int64
    public var apiKeyID: Int64
    public var model: String
    public var provider: String?
    public var accountID: Int64?
    public var usage: TokenUsage
    /// What was charged.
    public var charged: Credits
    public var costEstimated: Bool
    public var latencyMs: Int
    public var ttftMs: Int?
    public var status: Int
    public var endReason: String
    public var stream: Bool
    public var createdAt: Date

    public init(
        requestID: String, userID: Int64, apiKeyID: Int64, model: String, provider: String?, accountID: Int64?,
        usage: TokenUsage, charged: Credits, costEstimated: Bool, latencyMs: Int, ttftMs: Int?, status: Int,
        endReason: String, stream: Bool, createdAt: Date = Date()
    ) {
        self.requestID = requestID
        self.userID = userID
        self.apiKeyID = apiKeyID
        self.model = model
        self.provider = provider
        self.accountID = accountID
        self.usage = usage
        self.charged = charged
        self.costEstimated = costEstimated
        self.latencyMs = latencyMs
        self.ttftMs = ttftMs
        self.status = status
        self.endReason = endReason
        self.stream = stream
        self.createdAt = createdAt
    }
}

public enum LedgerKind: String, Sendable, Codable {
    case recharge, grant, consume, refund, adjust
}

public struct LedgerEntry: Sendable, Equatable {
    public var id: Int64
    public var userID: Int64
    public var kind: LedgerKind
    public var amount: Credits
    public var balanceBefore: Credits
    public var balanceAfter: Credits
    public var referenceID: String
    public var note: String?
    public var createdAt: Date
}

/// The durable balance a write left behind, fed back to the in-memory credit book.
public struct PersistedCharge: Sendable, Equatable {
    public var userID: Int64
    public var charged: Credits
    public var balanceAfter: Credits
}

extension Date {
    var unixMillis: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
    init(unixMillis: Int64) { self.init(timeIntervalSince1970: Double(unixMillis) / 1000) }
}
