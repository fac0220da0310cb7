import Foundation
import SluiceCore

/// What the metering API keeps for the operator's other services: service accounts and their
/// scoped tokens, users known by an external id, and the usage events services record. Credits a
/// service moves go through the ledger (`LedgerStore.credit`) like any other entry.
public protocol MeteringStore: Sendable {
    /// Throws `StoreConflict(field: "name")` when the name is taken.
    func createServiceAccount(name: String, createdBy: Int64?) async throws -> ServiceAccountRecord
    func serviceAccounts() async throws -> [ServiceAccountRecord]
    func serviceAccount(id: Int64) async throws -> ServiceAccountRecord?
    func createServiceToken(_ token: NewServiceToken) async throws -> Int64
    func serviceTokens(serviceAccountID: Int64) async throws -> [ServiceTokenRecord]
    func serviceToken(hash: String) async throws -> ServiceTokenRecord?
    /// Returns whether a live token was revoked now.
    func revokeServiceToken(id: Int64, now: Date) async throws -> Bool
    func touchServiceToken(id: Int64, at: Date) async throws

    func user(externalID: String) async throws -> UserRecord?
    /// The user with this external id, made now if there is none. Throws
    /// `StoreConflict(field: "email")` when another user has the email.
    func ensureUser(externalID: String, email: String, name: String?) async throws -> (user: UserRecord, created: Bool)

    /// Records events in one transaction, each once per (service, request id): a repeat returns
    /// the first record, with `created` false.
    func recordUsageEvents(_ events: [NewUsageEvent]) async throws -> [(event: UsageEventRecord, created: Bool)]
    func usageEvent(id: Int64) async throws -> UsageEventRecord?
    func usageEvents(_ query: UsageEventQuery) async throws -> [UsageEventRecord]
    func usageEventStats(_ query: UsageEventQuery) async throws -> UsageEventStats
}

/// What a service token may do. Each route of the metering API names the one it needs.
public enum ServiceScope: String, Sendable, CaseIterable, Codable {
    case usageWrite = "usage:write"
    case creditsConsume = "credits:consume"
    case creditsRecharge = "credits:recharge"
    case usersRead = "users:read"
    case usersWrite = "users:write"
}

public struct ServiceAccountRecord: Sendable, Equatable {
    public var id: Int64
    public var name: String
    public var createdAt: Date
}

public struct NewServiceToken: Sendable, Equatable {
    public var serviceAccountID: Int64
    public var name: String
    public var tokenHash: String
    public var prefix: String
    public var scopes: [ServiceScope]
    public var expiresAt: Date?

    public init(serviceAccountID: Int64, name: String, tokenHash: String, prefix: String, scopes: [ServiceScope], expiresAt: Date?) {
        self.serviceAccountID = serviceAccountID
        self.name = name
        self.tokenHash = tokenHash
        self.prefix = prefix
        self.scopes = scopes
        self.expiresAt = expiresAt
    }
}

public struct ServiceTokenRecord: Sendable, Equatable {
    public var id: Int64
    public var serviceAccountID: Int64
    public var name: String
    public var prefix: String
    public var scopes: [ServiceScope]
    public var expiresAt: Date?
    public var revokedAt: Date?
    public var lastUsedAt: Date?
    public var createdAt: Date

    public func isLive(at now: Date) -> Bool { revokedAt == nil && (expiresAt.map { $0 > now } ?? true) }
}

public struct NewUsageEvent: Sendable, Equatable {
    public var userID: Int64
    public var serviceAccountID: Int64
    /// The Idempotency-Key or the event's own request id: the event is recorded once by it.
    public var requestID: String
    public var eventType: String
    public var endpoint: String?
    public var modelName: String?
    public var provider: String?
    public var promptTokens: Int64
    public var completionTokens: Int64
    public var tokensUsed: Int64
    public var creditsCharged: Credits
    /// `provided` when the service said what it charged, `manifest_price` when Sluice priced it.
    public var calculationMethod: String
    public var sessionID: String?
    public var traceID: String?
    /// A JSON object, as the service sent it.
    public var metadata: String?

    public init(
        userID: Int64, serviceAccountID: Int64, requestID: String, eventType: String, endpoint: String?, modelName: String?, provider: String?,
        promptTokens: Int64, completionTokens: Int64, tokensUsed: Int64, creditsCharged: Credits, calculationMethod: String, sessionID: String?,
        traceID: String?, metadata: String?
    ) {
        self.userID = userID
        self.serviceAccountID = serviceAccountID
        self.requestID = requestID
        self.eventType = eventType
        self.endpoint = endpoint
        self.modelName = modelName
        self.provider = provider
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.tokensUsed = tokensUsed
        self.creditsCharged = creditsCharged
        self.calculationMethod = calculationMethod
        self.sessionID = sessionID
        self.traceID = traceID
        self.metadata = metadata
    }
}

public struct UsageEventRecord: Sendable, Equatable {
    public var id: Int64
    public var event: NewUsageEvent
    public var createdAt: Date
}

public struct UsageEventQuery: Sendable, Equatable {
    public var userID: Int64
    public var eventType: String?
    public var modelName: String?
    public var from: Date?
    public var to: Date?
    public var page: PageRequest

    public init(userID: Int64, eventType: String? = nil, modelName: String? = nil, from: Date? = nil, to: Date? = nil, page: PageRequest = PageRequest()) {
        self.userID = userID
        self.eventType = eventType
        self.modelName = modelName
        self.from = from
        self.to = to
        self.page = page
    }
}

public struct UsageEventStats: Sendable, Equatable {
    public var totalRecords: Int64
    public var totalCredits: Credits
    public var totalTokens: Int64
    /// Record counts.
    public var byEventType: [String: Int64]
    public var byModel: [String: Int64]
    public var byProvider: [String: Int64]

    public init(
        totalRecords: Int64 = 0, totalCredits: Credits = .zero, totalTokens: Int64 = 0, byEventType: [String: Int64] = [:],
        byModel: [String: Int64] = [:], byProvider: [String: Int64] = [:]
    ) {
        self.totalRecords = totalRecords
        self.totalCredits = totalCredits
        self.totalTokens = totalTokens
        self.byEventType = byEventType
        self.byModel = byModel
        self.byProvider = byProvider
    }
}
