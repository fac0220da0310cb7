import Foundation
import SluiceCore
import Synchronization

/// Outbound webhooks: the endpoints admins register, an outbox of events written in the same
/// transaction as what they report, and one delivery per endpoint and event, retried until it
/// lands and sent in order per user.
public protocol WebhookStore: Sendable {
    /// The event types writes put in the outbox from now on: those some endpoint wants. Empty (the
    /// default) writes none, so a gateway without webhooks pays nothing for them.
    func recordWebhookEvents(of types: Set<WebhookEventType>)

    func createWebhookEndpoint(url: String, secret: SealedSecret, types: [WebhookEventType]) async throws -> Int64
    func webhookEndpoints() async throws -> [WebhookEndpointRecord]
    func deleteWebhookEndpoint(id: Int64, now: Date) async throws -> Bool

    /// Outbox events not yet fanned out, oldest first.
    func pendingWebhookEvents(limit: Int) async throws -> [WebhookEventRecord]
    /// Marks the events fanned out and adds their deliveries, in one transaction. False, with
    /// nothing written, when another instance fanned any of them out first.
    func fanOutWebhookEvents(ids: [Int64], deliveries: [NewWebhookDelivery]) async throws -> Bool
    /// Due deliveries, leased until `until`: of each endpoint and user only the oldest pending
    /// one, so a user's events arrive in order even while one is being retried.
    func claimDueWebhookDeliveries(now: Date, until: Date, limit: Int) async throws -> [WebhookDeliveryRecord]
    func finishWebhookDelivery(id: Int64, _ outcome: WebhookDeliveryOutcome) async throws
    func webhookDeliveries(endpointID: Int64, page: PageRequest) async throws -> [WebhookDeliveryRecord]
    /// Sends a delivery again from now, whatever became of it. False for an unknown id.
    func replayWebhookDelivery(id: Int64, now: Date) async throws -> Bool
}

public enum WebhookEventType: String, Sendable, CaseIterable, Codable {
    case creditConsumed = "credit.consumed"
    case creditRecharged = "credit.recharged"
    case balanceLow = "balance.low"
    case keyCreated = "key.created"
    case keyRevoked = "key.revoked"
    case accountNeedsReauth = "account.needs_reauth"
    case accountCooling = "account.cooling"
}

public struct WebhookEndpointRecord: Sendable, Equatable {
    public var id: Int64
    public var url: String
    public var secret: SealedSecret
    public var types: [WebhookEventType]
    public var createdAt: Date
}

public struct WebhookEventRecord: Sendable, Equatable {
    public var id: Int64
    public var userID: Int64?
    public var type: WebhookEventType
    /// A JSON object.
    public var payload: String
    public var createdAt: Date

    public init(id: Int64, userID: Int64?, type: WebhookEventType, payload: String, createdAt: Date) {
        self.id = id
        self.userID = userID
        self.type = type
        self.payload = payload
        self.createdAt = createdAt
    }
}

public struct NewWebhookDelivery: Sendable, Equatable {
    public var endpointID: Int64
    public var userID: Int64?
    public var type: WebhookEventType
    public var payload: String
    public var createdAt: Date

    public init(endpointID: Int64, userID: Int64?, type: WebhookEventType, payload: String, createdAt: Date) {
        self.endpointID = endpointID
        self.userID = userID
        self.type = type
        self.payload = payload
        self.createdAt = createdAt
    }
}

public struct WebhookDeliveryRecord: Sendable, Equatable {
    public var id: Int64
    public var delivery: NewWebhookDelivery
    public var status: String
    public var attempts: Int
    public var nextAttemptAt: Date
    public var lastStatus: Int?
    public var lastError: String?
    public var deliveredAt: Date?
}

public enum WebhookDeliveryOutcome: Sendable, Equatable {
    case delivered(status: Int, at: Date)
    case retry(status: Int?, error: String, at: Date)
    case failed(status: Int?, error: String)
}

/// The event types the outbox records now, shared by a store's writes.
final class WebhookEventFilter: Sendable {
    private let types = Mutex(Set<WebhookEventType>())
    func set(_ new: Set<WebhookEventType>) { types.withLock { $0 = new } }
    func wants(_ type: WebhookEventType) -> Bool { types.withLock { $0.contains(type) } }
}

/// The payloads stores write, encoded one way for both.
public enum WebhookPayload {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }()

    public static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()

    public static func credits(_ credits: Credits) -> Decimal { Decimal(string: credits.description) ?? 0 }

    public struct Consumed: Codable, Sendable {
        public var userId: Int64
        public var amount: Decimal
        public var requests: Int
        public var balanceBefore: Decimal
        public var balanceAfter: Decimal

        public init(userId: Int64, amount: Decimal, requests: Int, balanceBefore: Decimal, balanceAfter: Decimal) {
            self.userId = userId
            self.amount = amount
            self.requests = requests
            self.balanceBefore = balanceBefore
            self.balanceAfter = balanceAfter
        }
    }

    struct Recharged: Encodable {
        var userId: Int64
        var amount: Decimal
        var kind: String
        var referenceId: String
        var balanceAfter: Decimal
    }

    struct Key: Encodable {
        var userId: Int64
        var keyId: Int64
        var prefix: String
    }

    struct Account: Encodable {
        var accountId: Int64
        var scope: String?
        var coolingUntil: Date?
        var reason: String?
    }

    public static func text(_ value: some Encodable) throws -> String { String(decoding: try encoder.encode(value), as: UTF8.self) }

    /// The outbox event a ledger entry makes, if any: a recharge or grant is `credit.recharged`,
    /// a consume (a service's debit) `credit.consumed`.
    static func forEntry(_ entry: LedgerEntry, filter: WebhookEventFilter) throws -> (WebhookEventType, String)? {
        switch entry.kind {
        case .recharge, .grant:
            guard filter.wants(.creditRecharged) else { return nil }
            return (.creditRecharged, try text(Recharged(
                userId: entry.userID, amount: credits(entry.amount), kind: entry.kind.rawValue, referenceId: entry.referenceID,
                balanceAfter: credits(entry.balanceAfter))))
        case .consume:
            // balance.low is found from the consumed events, so they are kept for it too.
            guard filter.wants(.creditConsumed) || filter.wants(.balanceLow) else { return nil }
            return (.creditConsumed, try text(Consumed(
                userId: entry.userID, amount: credits(.zero - entry.amount), requests: 1, balanceBefore: credits(entry.balanceBefore),
                balanceAfter: credits(entry.balanceAfter))))
        default:
            return nil
        }
    }
}

extension WebhookPayload {
    /// One `credit.consumed` per user per settlement batch: the batch is the short window the
    /// consumption is summed over.
    static func consumed(_ user: SettlementBatch.UserCharges, balanceAfter: Int64) throws -> String {
        try text(Consumed(
            userId: user.userID, amount: credits(user.total), requests: user.records.count,
            balanceBefore: credits(Credits(micros: balanceAfter) + user.total), balanceAfter: credits(Credits(micros: balanceAfter))))
    }

    static func cooling(accountID: Int64, scope: CooldownScope, _ state: CooldownState) throws -> String {
        try text(Account(accountId: accountID, scope: scope.model ?? "account", coolingUntil: state.coolingUntil, reason: state.reason?.rawValue))
    }
}

extension WebhookEndpointRecord {
    init(row: some StoreRow) throws {
        let types = try JSONDecoder().decode([String].self, from: Data(try row.text(required: "event_types").utf8))
        self.init(
            id: try row.int(required: "id"), url: try row.text(required: "url"),
            secret: SealedSecret(ciphertext: try row.bytes("secret_ciphertext") ?? Data(), keyVersion: Int(try row.int(required: "secret_key_version"))),
            types: types.compactMap(WebhookEventType.init(rawValue:)), createdAt: try row.date(required: "created_at"))
    }
}

extension WebhookEventRecord {
    init(row: some StoreRow) throws {
        guard let type = WebhookEventType(rawValue: try row.text(required: "type")) else { throw StoreDecodingError(column: "type") }
        self.init(
            id: try row.int(required: "id"), userID: try row.int("user_id"), type: type, payload: try row.text(required: "payload"),
            createdAt: try row.date(required: "created_at"))
    }
}

extension WebhookDeliveryRecord {
    init(row: some StoreRow) throws {
        guard let type = WebhookEventType(rawValue: try row.text(required: "type")) else { throw StoreDecodingError(column: "type") }
        self.init(
            id: try row.int(required: "id"),
            delivery: NewWebhookDelivery(
                endpointID: try row.int(required: "endpoint_id"), userID: try row.int("user_id"), type: type,
                payload: try row.text(required: "payload"), createdAt: try row.date(required: "created_at")),
            status: try row.text(required: "status"), attempts: Int(try row.int(required: "attempts")),
            nextAttemptAt: try row.date(required: "next_attempt_at"), lastStatus: try row.int("last_status").map(Int.init),
            lastError: try row.text("last_error"), deliveredAt: try row.date("delivered_at"))
    }
}

enum WebhookQueries {
    /// Pending deliveries that are due and unleased, and the oldest pending one of their endpoint
    /// and user: a later event waits while an earlier one is retried. `$now` twice, then the limit.
    static func due(placeholders p: [String]) -> String {
        """
        SELECT d.* FROM webhook_deliveries d
        WHERE d.status = 'pending' AND d.next_attempt_at <= \(p[0]) AND d.lease_until <= \(p[1])
          AND NOT EXISTS (
            SELECT 1 FROM webhook_deliveries e
            WHERE e.endpoint_id = d.endpoint_id AND e.status = 'pending' AND e.id < d.id
              AND (e.user_id = d.user_id OR (e.user_id IS NULL AND d.user_id IS NULL)))
        ORDER BY d.id LIMIT \(p[2])
        """
    }
}
