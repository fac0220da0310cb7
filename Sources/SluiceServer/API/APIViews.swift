import Foundation
import SluiceCore
import SluiceStore

/// What `/api` shows of stored records. Secrets (password hashes, key hashes) have no field here.
struct UserView: Encodable {
    var id: Int64
    var email: String
    var emailVerified: Bool
    var role: String
    var status: String
    var trustLevel: Int
    var plan: String
    var poolPreference: String
    var balance: CreditAmount
    var createdAt: Date

    init(_ user: UserRecord) {
        id = user.id
        email = user.email
        emailVerified = user.emailVerifiedAt != nil
        role = user.role.rawValue
        status = user.status.rawValue
        trustLevel = user.trustLevel
        plan = user.plan
        poolPreference = user.poolPreference.rawValue
        balance = CreditAmount(user.balance)
        createdAt = user.createdAt
    }
}

struct APIKeyView: Encodable {
    var id: Int64
    var name: String
    var prefix: String
    var createdAt: Date
    var lastUsedAt: Date?
    var expiresAt: Date?
    var allowedModels: [String]?
    var rpmLimit: Int?
    var tpmLimit: Int?
    var spendLimit: CreditAmount?
    var spent: CreditAmount
    var ipAllowlist: [String]?
    var recordConversations: Bool
    /// Only in the answer to creating the key.
    var key: String?

    init(_ record: APIKeyRecord, key: String? = nil) {
        id = record.id
        name = record.name
        prefix = record.prefix
        createdAt = record.createdAt
        lastUsedAt = record.lastUsedAt
        expiresAt = record.limits.expiresAt
        allowedModels = record.limits.allowedModels
        rpmLimit = record.limits.requestsPerMinute
        tpmLimit = record.limits.tokensPerMinute
        spendLimit = record.limits.spendLimit.map(CreditAmount.init)
        spent = CreditAmount(record.spent)
        ipAllowlist = record.limits.ipAllowlist?.map(\.description)
        recordConversations = record.limits.recordConversations
        self.key = key
    }

    func encode(to encoder: any Encoder) throws {
        // Absent limits are explicit nulls, so clients see every field a key can have.
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(prefix, forKey: .prefix)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(lastUsedAt, forKey: .lastUsedAt)
        try c.encode(expiresAt, forKey: .expiresAt)
        try c.encode(allowedModels, forKey: .allowedModels)
        try c.encode(rpmLimit, forKey: .rpmLimit)
        try c.encode(tpmLimit, forKey: .tpmLimit)
        try c.encode(spendLimit, forKey: .spendLimit)
        try c.encode(spent, forKey: .spent)
        try c.encode(ipAllowlist, forKey: .ipAllowlist)
        try c.encode(recordConversations, forKey: .recordConversations)
        try c.encodeIfPresent(key, forKey: .key)
    }

    enum CodingKeys: String, CodingKey {
        case id, name, prefix, createdAt, lastUsedAt, expiresAt, allowedModels, rpmLimit, tpmLimit, spendLimit, spent, ipAllowlist, recordConversations, key
    }
}

struct TransactionView: Encodable {
    var id: Int64
    var type: String
    var amount: CreditAmount
    var balanceBefore: CreditAmount
    var balanceAfter: CreditAmount
    var referenceId: String
    var note: String?
    var createdAt: Date

    init(_ entry: LedgerEntry) {
        id = entry.id
        type = entry.kind.rawValue
        amount = CreditAmount(entry.amount)
        balanceBefore = CreditAmount(entry.balanceBefore)
        balanceAfter = CreditAmount(entry.balanceAfter)
        referenceId = entry.referenceID
        note = entry.note
        createdAt = entry.createdAt
    }
}

struct UsageLogView: Encodable {
    var id: Int64
    var requestId: String
    var userId: Int64
    var apiKeyId: Int64
    var model: String
    var servedModel: String?
    var clientProtocol: String?
    var upstreamProtocol: String?
    var provider: String?
    var promptTokens: Int
    var completionTokens: Int
    var cachedTokens: Int
    var cacheWriteTokens: Int
    var credits: CreditAmount
    var costEstimated: Bool
    var latencyMs: Int
    var ttftMs: Int?
    var status: Int
    var endReason: String
    var stream: Bool
    var createdAt: Date

    init(_ stored: StoredUsage) {
        let r = stored.record
        id = stored.id
        requestId = r.requestID
        userId = r.userID
        apiKeyId = r.apiKeyID
        model = r.model
        servedModel = r.servedModel
        clientProtocol = r.clientProtocol
        upstreamProtocol = r.upstreamProtocol
        provider = r.provider
        promptTokens = r.usage.promptTokens
        completionTokens = r.usage.completionTokens
        cachedTokens = r.usage.cachedPromptTokens
        cacheWriteTokens = r.usage.cacheWriteTokens
        credits = CreditAmount(r.charged)
        costEstimated = r.costEstimated
        latencyMs = r.latencyMs
        ttftMs = r.ttftMs
        status = r.status
        endReason = r.endReason
        stream = r.stream
        createdAt = r.createdAt
    }
}

struct UsageTotalsView: Encodable {
    var requests: Int
    var promptTokens: Int
    var completionTokens: Int
    var totalTokens: Int
    var credits: CreditAmount
    /// What the upstream usage cost in USD at the configured credits-per-USD rate.
    var costUsd: Decimal
    var errorRate: Double

    init(_ totals: UsageTotals, creditsPerUSD: Credits) {
        requests = totals.requests
        promptTokens = totals.promptTokens
        completionTokens = totals.completionTokens
        totalTokens = totals.promptTokens + totals.completionTokens
        credits = CreditAmount(totals.credits)
        var usd = Decimal(totals.credits.micros) / Decimal(max(creditsPerUSD.micros, 1))
        var rounded = Decimal()
        NSDecimalRound(&rounded, &usd, 6, .plain)
        costUsd = rounded
        errorRate = totals.requests == 0 ? 0 : Double(totals.errors) / Double(totals.requests)
    }
}

struct ActivityView: Encodable {
    var id: Int64
    var action: String
    var actorId: Int64?
    var ip: String?
    var detail: String?
    var createdAt: Date

    init(_ entry: ActivityEntry) {
        id = entry.id
        action = entry.action
        actorId = entry.actorID
        ip = entry.ip
        detail = entry.detail
        createdAt = entry.createdAt
    }
}
