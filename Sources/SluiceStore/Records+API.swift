import Foundation
import SluiceCore

/// What presenting a refresh token did.
public enum RefreshRotation: Sendable, Equatable {
    /// The token was live; it is now used and its successor is stored.
    case rotated(userID: Int64, familyID: String)
    /// The token had been used before: its whole family is now revoked.
    case reused(userID: Int64, familyID: String)
    /// Unknown, expired or revoked.
    case invalid
}

/// The first answer to an idempotent request, replayed for a repeat of its key.
public struct StoredReply: Sendable, Equatable {
    public var requestHash: String
    public var status: Int
    public var body: String

    public init(requestHash: String, status: Int, body: String) {
        self.requestHash = requestHash
        self.status = status
        self.body = body
    }
}

public struct RedemptionCodeRecord: Sendable, Equatable {
    public var id: Int64
    public var prefix: String
    public var value: Credits
    public var maxUses: Int
    public var usedCount: Int
    public var expiresAt: Date?
    public var createdAt: Date
    /// Set while an admin has the code disabled: it redeems nothing.
    public var disabledAt: Date? = nil
}

public struct NewRedemptionCode: Sendable {
    public var codeHash: String
    public var prefix: String
    public var value: Credits
    public var maxUses: Int
    public var expiresAt: Date?
    public var createdBy: Int64?

    public init(codeHash: String, prefix: String, value: Credits, maxUses: Int, expiresAt: Date?, createdBy: Int64?) {
        self.codeHash = codeHash
        self.prefix = prefix
        self.value = value
        self.maxUses = maxUses
        self.expiresAt = expiresAt
        self.createdBy = createdBy
    }
}

public enum RedeemOutcome: Sendable, Equatable {
    case credited(LedgerEntry)
    /// Unknown or expired.
    case notFound
    case usedUp
    case alreadyRedeemed
}

public struct ActivityEntry: Sendable, Equatable {
    public var id: Int64 = 0
    public var userID: Int64
    public var actorID: Int64?
    public var action: String
    public var detail: String?
    public var ip: String?
    public var createdAt: Date

    public init(userID: Int64, actorID: Int64?, action: String, detail: String? = nil, ip: String?, createdAt: Date = Date()) {
        self.userID = userID
        self.actorID = actorID
        self.action = action
        self.detail = detail
        self.ip = ip
        self.createdAt = createdAt
    }
}

/// A page: `limit` rows after skipping `offset`, or, with `beforeID`, the rows older than that id
/// (a cursor that stays stable while new rows arrive).
public struct PageRequest: Sendable, Equatable {
    public var limit: Int
    public var offset: Int
    public var beforeID: Int64?

    public init(limit: Int = 50, offset: Int = 0, beforeID: Int64? = nil) {
        self.limit = limit
        self.offset = offset
        self.beforeID = beforeID
    }
}

public struct LedgerQuery: Sendable, Equatable {
    public var userID: Int64
    public var kind: LedgerKind?
    public var from: Date?
    public var to: Date?
    public var page = PageRequest()

    public init(userID: Int64, kind: LedgerKind? = nil, from: Date? = nil, to: Date? = nil, page: PageRequest = PageRequest()) {
        self.userID = userID
        self.kind = kind
        self.from = from
        self.to = to
        self.page = page
    }
}

/// Filters over usage logs; nil matches everything. `userID` nil is every user (admins only).
public struct UsageQuery: Sendable, Equatable {
    public var userID: Int64?
    public var model: String?
    public var apiKeyID: Int64?
    public var status: Int?
    public var from: Date?
    public var to: Date?
    public var page = PageRequest()

    public init(
        userID: Int64?, model: String? = nil, apiKeyID: Int64? = nil, status: Int? = nil, from: Date? = nil, to: Date? = nil,
        page: PageRequest = PageRequest()
    ) {
        self.userID = userID
        self.model = model
        self.apiKeyID = apiKeyID
        self.status = status
        self.from = from
        self.to = to
        self.page = page
    }
}

public struct StoredUsage: Sendable, Equatable {
    public var id: Int64
    public var record: UsageRecord
}

/// Totals over a set of usage rows.
public struct UsageTotals: Sendable, Equatable {
    public var requests: Int
    public var errors: Int
    public var promptTokens: Int
    public var completionTokens: Int
    public var credits: Credits

    public init(requests: Int = 0, errors: Int = 0, promptTokens: Int = 0, completionTokens: Int = 0, credits: Credits = .zero) {
        self.requests = requests
        self.errors = errors
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.credits = credits
    }
}

public struct UsageStats: Sendable, Equatable {
    public var total: UsageTotals
    public var byModel: [String: UsageTotals]
    public var byProvider: [String: UsageTotals]
    public var byKey: [Int64: UsageTotals]
    /// Keyed by UTC day, `yyyy-MM-dd`.
    public var byDay: [String: UsageTotals]
    /// Keyed by wire protocol (`openai-chat`, `anthropic-messages`, …): the client's, and the serving account's.
    public var byClientProtocol: [String: UsageTotals]
    public var byUpstreamProtocol: [String: UsageTotals]

    public init(
        total: UsageTotals, byModel: [String: UsageTotals], byProvider: [String: UsageTotals], byKey: [Int64: UsageTotals],
        byDay: [String: UsageTotals], byClientProtocol: [String: UsageTotals] = [:], byUpstreamProtocol: [String: UsageTotals] = [:]
    ) {
        self.total = total
        self.byModel = byModel
        self.byProvider = byProvider
        self.byKey = byKey
        self.byDay = byDay
        self.byClientProtocol = byClientProtocol
        self.byUpstreamProtocol = byUpstreamProtocol
    }
}
