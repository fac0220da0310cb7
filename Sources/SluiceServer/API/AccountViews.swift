import Foundation
import SluiceCore
import SluiceStore

/// An upstream account as `/api` shows it: settings and live state, never the secret.
struct AccountView: Encodable {
    struct Scope: Encodable {
        /// The model, or null for the whole account.
        var model: String?
        var coolingUntil: Date?
        var reason: String?
        var backoffLevel: Int
        var verifyAt: Date?
    }

    var id: Int64
    var provider: String
    var kind: String
    var models: [String]
    var priority: Int
    var weight: Int
    var ownerId: Int64?
    var shareMode: String
    var reservePercent: Int
    var maxConcurrency: Int?
    /// The outbound proxy's `host:port`, never its credentials; null when calls go direct.
    var proxy: String?
    var enabled: Bool
    var needsReauth: Bool
    /// `ok`, `cooling`, `needs_reauth` or `disabled`.
    var state: String
    var scopes: [Scope]
    var headroom: Double?
    var quotaResetsAt: Date?
    var inFlight: Int
    var errorRate: Double
    var timeToFirstByteMs: Int?
    var lastError: String?
    var lastErrorAt: Date?
    var requests: Int
    var errors: [String: Int]
    var cooldownsEntered: Int
    var secondsCooling: Int
    var createdAt: Date

    init(_ record: AccountRecord, live: AccountPool.AccountState?, proxy: String? = nil, now: Date = Date()) {
        self.proxy = proxy
        id = record.id
        provider = record.provider
        kind = record.kind.rawValue
        models = record.models
        priority = record.priority
        weight = record.weight
        ownerId = record.ownerUserID
        shareMode = record.sharing.shareMode.rawValue
        reservePercent = record.sharing.reservePercent
        maxConcurrency = record.sharing.maxConcurrency
        enabled = record.enabled
        needsReauth = record.needsReauth
        let runtime = live?.runtime ?? AccountRuntime()
        scopes = (live?.cooldowns ?? []).map { scope, cooldown in
            Scope(
                model: scope.model, coolingUntil: cooldown.isCooling(at: now) ? cooldown.coolingUntil : nil, reason: cooldown.reason?.rawValue,
                backoffLevel: cooldown.level, verifyAt: cooldown.verifyAt)
        }
        state =
            !record.enabled ? "disabled"
            : record.needsReauth || live?.needsReauth == true ? "needs_reauth"
            : scopes.contains { $0.coolingUntil != nil } ? "cooling" : "ok"
        headroom = runtime.headroom
        quotaResetsAt = runtime.quotaResetsAt
        inFlight = runtime.inFlight
        errorRate = (runtime.errorRate * 1000).rounded() / 1000
        timeToFirstByteMs = runtime.timeToFirstByte.map { Int(($0 * 1000).rounded()) }
        lastError = runtime.lastError
        lastErrorAt = runtime.lastErrorAt
        requests = runtime.requests
        errors = runtime.errors
        cooldownsEntered = runtime.cooldownsEntered
        secondsCooling = Int(runtime.secondsCooling.rounded())
        createdAt = record.createdAt
    }

    static let states = ["ok", "cooling", "needs_reauth", "disabled"]

    static let schema: Schema = .object([
        ("id", .integer), ("provider", .text), ("kind", .string(values: AccountKind.allCases.map(\.rawValue))),
        ("models", .array(.text)), ("priority", .integer), ("weight", .integer), ("owner_id", .nullable(.integer)),
        ("share_mode", .string(values: ShareMode.allCases.map(\.rawValue))), ("reserve_percent", .integer),
        ("max_concurrency", .nullable(.integer)), ("proxy", .nullable(.text)), ("enabled", .boolean), ("needs_reauth", .boolean),
        ("state", .string(values: states)),
        ("scopes", .array(.object([
            ("model", .nullable(.text)), ("cooling_until", .nullable(.time)), ("reason", .nullable(.text)), ("backoff_level", .integer),
            ("verify_at", .nullable(.time)),
        ]))),
        ("headroom", .nullable(.number)), ("quota_resets_at", .nullable(.time)), ("in_flight", .integer), ("error_rate", .number),
        ("time_to_first_byte_ms", .nullable(.integer)), ("last_error", .nullable(.text)), ("last_error_at", .nullable(.time)),
        ("requests", .integer), ("errors", .object([])), ("cooldowns_entered", .integer), ("seconds_cooling", .integer),
        ("created_at", .time),
    ])
}

struct AccountList: Encodable {
    var data: [AccountView]
}
