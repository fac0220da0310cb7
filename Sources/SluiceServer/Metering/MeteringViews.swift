import Foundation
import SluiceCore
import SluiceStore

/// A usage event as the metering API shows it, in the seed's field names.
struct EventView: Encodable {
    var id: Int64
    var userId: String
    var requestId: String
    var eventType: String
    var endpoint: String?
    var modelName: String?
    var provider: String?
    var promptTokens: Int64
    var completionTokens: Int64
    var tokensUsed: Int64
    var creditsCharged: CreditAmount
    var calculationMethod: String
    var sessionId: String?
    var traceId: String?
    var metadata: RawJSONObject
    var createdAt: Date

    init(_ record: UsageEventRecord, user: UserRecord) {
        let event = record.event
        id = record.id
        userId = user.externalID ?? String(user.id)
        requestId = event.requestID
        eventType = event.eventType
        endpoint = event.endpoint
        modelName = event.modelName
        provider = event.provider
        promptTokens = event.promptTokens
        completionTokens = event.completionTokens
        tokensUsed = event.tokensUsed
        creditsCharged = CreditAmount(event.creditsCharged)
        calculationMethod = event.calculationMethod
        sessionId = event.sessionID
        traceId = event.traceID
        metadata = RawJSONObject(text: event.metadata)
        createdAt = record.createdAt
    }
}

/// A JSON object kept as text, written back as the object it was.
struct RawJSONObject: Encodable {
    var text: String?

    func encode(to encoder: any Encoder) throws {
        let object = text.flatMap { try? JSONDecoder().decode([String: JSONValue].self, from: Data($0.utf8)) } ?? [:]
        var container = encoder.singleValueContainer()
        try container.encode(object)
    }
}

/// Any JSON value, read and written digit for digit.
enum JSONValue: Codable {
    case null, bool(Bool), number(Decimal), string(String), array([JSONValue]), object([String: JSONValue])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Decimal.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

/// `usage/stats`: the service's events and the gateway's requests together.
struct UsageStatsView: Encodable {
    static let gatewayType = "gateway_request"

    struct Range: Encodable { var startDate: Date?; var endDate: Date? }
    struct Gateway: Encodable {
        var requests = 0
        var credits = CreditAmount(.zero)
        var promptTokens = 0
        var completionTokens = 0
    }

    var totalRecords: Int64 = 0
    var totalCreditsCharged = CreditAmount(.zero)
    var totalTokensUsed: Int64 = 0
    var byEventType: [String: Int64] = [:]
    var byModel: [String: Int64] = [:]
    var byProvider: [String: Int64] = [:]
    var gateway = Gateway()
    var dateRange: Range

    init(start: Date?, end: Date?) { dateRange = Range(startDate: start, endDate: end) }

    mutating func add(_ events: UsageEventStats) {
        totalRecords += events.totalRecords
        totalCreditsCharged = CreditAmount(totalCreditsCharged.credits + events.totalCredits)
        totalTokensUsed += events.totalTokens
        byEventType.merge(events.byEventType, uniquingKeysWith: +)
        byModel.merge(events.byModel, uniquingKeysWith: +)
        byProvider.merge(events.byProvider, uniquingKeysWith: +)
    }

    mutating func add(gateway stats: UsageStats) {
        let total = stats.total
        guard total.requests > 0 else { return }
        gateway = Gateway(
            requests: total.requests, credits: CreditAmount(total.credits), promptTokens: total.promptTokens, completionTokens: total.completionTokens)
        totalRecords += Int64(total.requests)
        totalCreditsCharged = CreditAmount(totalCreditsCharged.credits + total.credits)
        totalTokensUsed += Int64(total.promptTokens + total.completionTokens)
        byEventType[Self.gatewayType, default: 0] += Int64(total.requests)
        byModel.merge(stats.byModel.mapValues { Int64($0.requests) }, uniquingKeysWith: +)
        byProvider.merge(stats.byProvider.mapValues { Int64($0.requests) }, uniquingKeysWith: +)
    }

    static let counts = Schema.object([])
    static let schema = Schema.object([
        ("total_records", .integer), ("total_credits_charged", .credits), ("total_tokens_used", .integer), ("by_event_type", counts),
        ("by_model", counts), ("by_provider", counts),
        ("gateway", .object([("requests", .integer), ("credits", .credits), ("prompt_tokens", .integer), ("completion_tokens", .integer)])),
        ("date_range", .object([("start_date", .nullable(.time)), ("end_date", .nullable(.time))])),
    ])
}
