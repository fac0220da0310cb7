import Foundation
import SluiceCore

public enum UserStatus: String, Sendable, Codable {
    case active, disabled, muted
}

public enum UserRole: String, Sendable, Codable, CaseIterable {
    case user, admin
}

public struct UserRecord: Sendable, Equatable {
    public var id: Int64
    public var email: String
    public var status: UserStatus
    public var role: UserRole
    /// 0 to 4; plans and the pool allowance may depend on it.
    public var trustLevel: Int
    public var plan: String
    public var poolPreference: PoolPreference = .dedicatedFirst
    public var balance: Credits
    public var createdAt: Date
    /// The id another identity system knows the user by (`auth0|123`), for the metering API.
    public var externalID: String? = nil
    public var name: String? = nil
    /// Below this balance a `balance.low` webhook fires; nil: the plan's threshold.
    public var lowBalanceThreshold: Credits? = nil
    /// When the user proved the address; nil until then.
    public var emailVerifiedAt: Date? = nil
}

/// A user to create. The password arrives already hashed.
public struct NewUser: Sendable {
    public var email: String
    public var passwordHash: String?
    public var role: UserRole
    public var plan: String
    public var initialCredits: Credits

    public init(email: String, passwordHash: String? = nil, role: UserRole = .user, plan: String = "free", initialCredits: Credits = .zero) {
        self.email = email
        self.passwordHash = passwordHash
        self.role = role
        self.plan = plan
        self.initialCredits = initialCredits
    }
}

/// Fields to change on a user; nil leaves a field as it is. Which caller may set which is the
/// API's business: users set only their pool preference.
public struct UserUpdate: Sendable, Equatable {
    public var status: UserStatus?
    public var role: UserRole?
    public var trustLevel: Int?
    public var plan: String?
    public var poolPreference: PoolPreference?
    public var lowBalanceThreshold: Credits?

    public init(
        status: UserStatus? = nil, role: UserRole? = nil, trustLevel: Int? = nil, plan: String? = nil, poolPreference: PoolPreference? = nil,
        lowBalanceThreshold: Credits? = nil
    ) {
        self.status = status
        self.role = role
        self.trustLevel = trustLevel
        self.plan = plan
        self.poolPreference = poolPreference
        self.lowBalanceThreshold = lowBalanceThreshold
    }
}

/// An API key as the gateway sees it, with the owner's status joined in so that one lookup
/// answers both "is this key valid" and "may this user call".
public struct APIKeyRecord: Sendable, Equatable {
    public var id: Int64
    public var userID: Int64
    public var name: String
    public var prefix: String
    public var revokedAt: Date?
    public var userStatus: UserStatus
    /// The owner's choice of dedicated or shared accounts, cached with the key for the hot path.
    public var poolPreference: PoolPreference = .dedicatedFirst
    /// The owner's plan and trust level, cached with the key: they set their shared-pool allowance.
    public var plan = "free"
    public var trustLevel = 0
    public var limits = APIKeyLimits()
    /// For a team key (`userID` is then the team's wallet): the member who made it.
    public var teamMember: TeamKeyMember? = nil
    /// Credits charged to requests made with this key, as last written.
    public var spent: Credits = .zero
    public var createdAt = Date(timeIntervalSince1970: 0)
    public var lastUsedAt: Date?

    public func isUsable(at now: Date) -> Bool {
        revokedAt == nil && (limits.expiresAt.map { $0 > now } ?? true)
    }
}

/// What one API key may do, beyond its owner's balance.
public struct APIKeyLimits: Sendable, Equatable {
    /// nil allows every model.
    public var allowedModels: [String]?
    public var expiresAt: Date?
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    /// Credits the key may spend over its life.
    public var spendLimit: Credits?
    /// nil allows any client address.
    public var ipAllowlist: [IPNetwork]?
    /// Requests that name a chat session (`x-session-id`) are recorded in it.
    public var recordConversations: Bool

    public init(
        allowedModels: [String]? = nil, expiresAt: Date? = nil, requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil,
        spendLimit: Credits? = nil, ipAllowlist: [IPNetwork]? = nil, recordConversations: Bool = false
    ) {
        self.recordConversations = recordConversations
        self.allowedModels = allowedModels
        self.expiresAt = expiresAt
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.spendLimit = spendLimit
        self.ipAllowlist = ipAllowlist
    }
}

public enum AccountKind: String, Sendable, Codable, CaseIterable {
    case apiKey = "api-key"
    case cookie
    /// An access token with a refresh token, refreshed at the provider's token endpoint.
    case oauth
}

/// An account's sealed secret with its generation, which counts the secret's changes.
public struct StoredSecret: Sendable, Equatable {
    public var sealed: SealedSecret
    public var generation: Int64

    public init(sealed: SealedSecret, generation: Int64) {
        self.sealed = sealed
        self.generation = generation
    }
}

/// Whom an owner's account serves besides its owner. Accounts without an owner serve everyone.
public enum ShareMode: String, Sendable, Codable, CaseIterable {
    /// Only its owner.
    case ownerOnly = "private"
    /// Other users too, from the shared tier, while its headroom is above the owner's reserve.
    case surplus
}

/// How an account is offered, beyond who owns it.
public struct AccountSharing: Sendable, Equatable {
    public var shareMode: ShareMode
    /// Percent of the account's quota its owner keeps for themselves (0...100).
    public var reservePercent: Int
    /// Requests the account runs at once; nil has no cap.
    public var maxConcurrency: Int?

    public init(shareMode: ShareMode = .ownerOnly, reservePercent: Int = 20, maxConcurrency: Int? = nil) {
        self.shareMode = shareMode
        self.reservePercent = reservePercent
        self.maxConcurrency = maxConcurrency
    }
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
    /// How many times the secret changed; rotations are written only over the generation they read.
    public var secretGeneration: Int64 = 0
    public var enabled: Bool
    /// The provider rejected the credential for good; out of rotation until the secret changes.
    public var needsReauth: Bool = false
    /// The HTTP CONNECT proxy every call of this account goes through, sealed like the secret
    /// (its URL may hold a password). Nil: calls go direct.
    public var proxy: SealedSecret? = nil
    public var sharing = AccountSharing()
    public var createdAt = Date(timeIntervalSince1970: 0)
}

/// Changes to an account; nil fields stay as they are.
public struct AccountUpdate: Sendable, Equatable {
    public var models: [String]?
    public var priority: Int?
    public var weight: Int?
    public var enabled: Bool?
    public var sharing: AccountSharing?
    public var proxy: ProxyChange?

    /// A new outbound proxy, or none: calls go direct again.
    public enum ProxyChange: Sendable, Equatable {
        case set(SealedSecret)
        case remove
    }

    public init(
        models: [String]? = nil, priority: Int? = nil, weight: Int? = nil, enabled: Bool? = nil, sharing: AccountSharing? = nil,
        proxy: ProxyChange? = nil
    ) {
        self.models = models
        self.priority = priority
        self.weight = weight
        self.enabled = enabled
        self.sharing = sharing
        self.proxy = proxy
    }

    /// The sealed proxy to store, when the update changes it.
    var proxyColumns: (changes: Bool, ciphertext: Data?, keyVersion: Int?) {
        switch proxy {
        case nil: (false, nil, nil)
        case .remove: (true, nil, nil)
        case .set(let sealed): (true, sealed.ciphertext, sealed.keyVersion)
        }
    }
}

/// What one settled request leaves behind: a consume entry (when it cost anything) and a usage row.
public struct UsageRecord: Sendable, Equatable {
    public var requestID: String
    public var userID: Int64
    public var apiKeyID: Int64
    /// The model the client asked for, perhaps an alias.
    public var model: String
    /// The model that served the request, when an account did: `model`, or an alias's target.
    public var servedModel: String?
    /// The wire protocol the client spoke, and the one the serving account speaks.
    public var clientProtocol: String?
    public var upstreamProtocol: String?
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
    /// Whether the request was checkpointed in `requests_in_flight` while it ran; the settlement
    /// deletes its row there in the same transaction. Not a column of its own.
    public var checkpointed = false

    public init(
        requestID: String, userID: Int64, apiKeyID: Int64, model: String, servedModel: String? = nil, clientProtocol: String? = nil,
        upstreamProtocol: String? = nil, provider: String?, accountID: Int64?,
        usage: TokenUsage, charged: Credits, costEstimated: Bool, latencyMs: Int, ttftMs: Int?, status: Int,
        endReason: String, stream: Bool, createdAt: Date = Date()
    ) {
        self.requestID = requestID
        self.userID = userID
        self.apiKeyID = apiKeyID
        self.model = model
        self.servedModel = servedModel
        self.clientProtocol = clientProtocol
        self.upstreamProtocol = upstreamProtocol
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
    public var apiKeyID: Int64
    public var charged: Credits
    public var balanceAfter: Credits
    /// What the key may still spend after this charge; nil when it has no spending limit.
    public var keySpendRemaining: Credits?
    /// For a team key whose member has a spending limit: the membership, and what the member may
    /// still spend after this charge.
    public var memberBudgetID: Int64? = nil
    public var memberSpendRemaining: Credits? = nil
}

/// What one written batch did to one balance: its charges summed, and the balance the last left.
public struct BalanceChange: Sendable, Equatable {
    /// A user id, an API key id for a key's spending allowance, or a team membership id for a
    /// member's.
    public var id: Int64
    public var charged: Credits
    public var balanceAfter: Credits
}

extension [PersistedCharge] {
    /// The charges of one batch folded per user and per limited key, in order of first charge. A
    /// batch's charges apply in order, so telling a credit book once per balance ends in the same
    /// state as telling it once per charge, for one Redis round trip per user instead of per request.
    public func perBalance() -> (users: [BalanceChange], keys: [BalanceChange], members: [BalanceChange]) {
        var users: [BalanceChange] = []
        var keys: [BalanceChange] = []
        var members: [BalanceChange] = []
        var userIndex: [Int64: Int] = [:]
        var keyIndex: [Int64: Int] = [:]
        var memberIndex: [Int64: Int] = [:]
        func fold(_ id: Int64, _ charged: Credits, _ after: Credits, into changes: inout [BalanceChange], index: inout [Int64: Int]) {
            if let at = index[id] {
                changes[at].charged = changes[at].charged + charged
                changes[at].balanceAfter = after
            } else {
                index[id] = changes.count
                changes.append(BalanceChange(id: id, charged: charged, balanceAfter: after))
            }
        }
        for charge in self {
            fold(charge.userID, charge.charged, charge.balanceAfter, into: &users, index: &userIndex)
            if let remaining = charge.keySpendRemaining {
                fold(charge.apiKeyID, charge.charged, remaining, into: &keys, index: &keyIndex)
            }
            if let membershipID = charge.memberBudgetID, let remaining = charge.memberSpendRemaining {
                fold(membershipID, charge.charged, remaining, into: &members, index: &memberIndex)
            }
        }
        return (users, keys, members)
    }
}

extension Date {
    var unixMillis: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
    init(unixMillis: Int64) { self.init(timeIntervalSince1970: Double(unixMillis) / 1000) }
}
