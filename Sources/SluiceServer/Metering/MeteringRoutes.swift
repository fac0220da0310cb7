import Foundation
import Hummingbird
import SluiceCore
import SluiceProviders
import SluiceStore

/// The seed's usage and user routes under `/api/v1`, for the operator's other services: record
/// usage events (one at a time or up to 1,000 in a batch), read them and their statistics with the
/// gateway's own requests, and find or make users by their external id.
struct MeteringRoutes {
    let api: APIServices

    static let maxBatch = 1000
    /// The fields of a usage event. Those Sluice does not interpret (tool, operation, the seed's
    /// free-form objects) are kept together in the event's `metadata`.
    static let eventFields: Set<String> = [
        "user_id", "request_id", "event_type", "endpoint", "model_name", "provider", "prompt_tokens", "completion_tokens", "tokens_used",
        "credits_charged", "cost_usd", "session_id", "trace_id", "tool_name", "operation_name", "metadata", "billing_metadata", "request_data",
        "response_data",
    ]
    static let keptAsMetadata = ["cost_usd", "tool_name", "operation_name", "metadata", "billing_metadata", "request_data", "response_data"]

    static let eventSchema = Schema.object(
        [
            ("user_id", .nullable(.text)), ("request_id", .nullable(.string(length: 1...200))), ("event_type", .string(length: 1...100)),
            ("endpoint", .nullable(.string(length: 0...500))), ("model_name", .nullable(.string(length: 0...200))),
            ("provider", .nullable(.string(length: 0...100))), ("prompt_tokens", .nullable(.boundedInteger(0...1_000_000_000_000))),
            ("completion_tokens", .nullable(.boundedInteger(0...1_000_000_000_000))),
            ("tokens_used", .nullable(.boundedInteger(0...1_000_000_000_000))),
            ("credits_charged", .nullable(.creditsInput(.positive))), ("cost_usd", .nullable(.number)), ("session_id", .nullable(.text)),
            ("trace_id", .nullable(.text)), ("tool_name", .nullable(.text)), ("operation_name", .nullable(.text)),
            ("metadata", .nullable(.object([]))), ("billing_metadata", .nullable(.object([]))), ("request_data", .nullable(.object([]))),
            ("response_data", .nullable(.object([]))),
        ],
        required: ["event_type"], closed: true)
    static let recordSchema = Schema.object([
        ("id", .integer), ("user_id", .text), ("request_id", .text), ("event_type", .text), ("endpoint", .nullable(.text)),
        ("model_name", .nullable(.text)), ("provider", .nullable(.text)), ("prompt_tokens", .integer), ("completion_tokens", .integer),
        ("tokens_used", .integer), ("credits_charged", .credits), ("calculation_method", .text), ("session_id", .nullable(.text)),
        ("trace_id", .nullable(.text)), ("metadata", .object([])), ("created_at", .time),
    ])

    func register(on registry: EndpointRegistry) {
        registry.service(
            Endpoint(
                method: .post, path: "/api/v1/users/{user_id}/usage",
                summary: """
                    Record a usage event. It carries `credits_charged`, or is priced from the model's manifest price. Recorded once per \
                    Idempotency-Key or `request_id`: a repeat answers 200 with the first record. Recording charges nothing; \
                    credits/consume does.
                    """,
                pathSchema: Metering.userPath, request: Self.eventSchema, status: 201, response: Metering.envelopeSchema(Self.recordSchema),
                alsoAnswersWithResponse: [200], tag: "metering"),
            scope: .usageWrite, record)
        registry.service(
            Endpoint(
                method: .get, path: "/api/v1/users/{user_id}/usage", summary: "A user's usage events, newest first.",
                query: [
                    ("event_type", .text, "Only this type."), ("model_name", .text, "Only this model."),
                    ("start_date", .timeOrDate, "From this time, inclusive."), ("end_date", .timeOrDate, "Before this time."),
                    ("limit", .boundedInteger(1...200), "1-200, default 50."), ("offset", .boundedInteger(0...1_000_000), "Rows to skip."),
                ],
                pathSchema: Metering.userPath, response: Metering.envelopeSchema(.array(Self.recordSchema)), tag: "metering"),
            scope: .usersRead, list)
        registry.service(
            Endpoint(
                method: .get, path: "/api/v1/users/{user_id}/usage/stats",
                summary: "Totals of a user's usage events and gateway requests, by event type, model and provider.",
                query: [
                    ("event_type", .text, "Only this type (`gateway_request` for the gateway's own)."), ("model_name", .text, "Only this model."),
                    ("start_date", .timeOrDate, "From this time, inclusive."), ("end_date", .timeOrDate, "Before this time."),
                ],
                pathSchema: Metering.userPath, response: Metering.envelopeSchema(UsageStatsView.schema), tag: "metering"),
            scope: .usersRead, stats)
        registry.service(
            Endpoint(
                method: .post, path: "/api/v1/usage/batch",
                summary: """
                    Record up to 1,000 usage events, each naming its `user_id`, in one transaction. Each has its own result; give each a \
                    `request_id` so a retried batch records nothing twice.
                    """,
                request: .object([("records", .array(Self.eventSchema, minItems: 1))], required: ["records"], closed: true),
                response: Metering.envelopeSchema(.array(.object([
                    ("index", .integer), ("success", .boolean), ("created", .boolean), ("id", .nullable(.integer)), ("error", .nullable(.text)),
                ]))), tag: "metering"),
            scope: .usageWrite, batch)
    }

    // MARK: Recording

    struct EventBody: Decodable {
        var userId: String?
        var requestId: String?
        var eventType: String
        var endpoint: String?
        var modelName: String?
        var provider: String?
        var promptTokens: Int64?
        var completionTokens: Int64?
        var tokensUsed: Int64?
        var creditsCharged: CreditAmount?
        var sessionId: String?
        var traceId: String?
    }

    @Sendable func record(_ request: Request, context: ServiceContext) async throws -> Response {
        let user = try await Metering.user(context, store: api.store)
        let (body, raw) = try await APIJSON.body(EventBody.self, from: request, allowing: Self.eventFields)
        try Metering.check(bodyUser: body.userId, against: user)
        let key = request.headers[.idempotencyKey] ?? body.requestId ?? context.requestID
        let event = try newEvent(body, raw: raw, user: user.id, service: try context.serviceID(for: .usageWrite), requestID: key)
        guard let (record, created) = try await api.store.recordUsageEvents([event]).first else { throw GatewayError.internalError() }
        return try Metering.envelope(
            created ? "Usage recorded successfully" : "Usage was recorded before; this is the first record",
            EventView(record, user: user), status: created ? .created : .ok)
    }

    @Sendable func batch(_ request: Request, context: ServiceContext) async throws -> Response {
        var request = request
        let buffer = try await request.collectBody(upTo: 8 << 20)
        guard let object = (try? JSONSerialization.jsonObject(with: Data(buffer: buffer))) as? [String: Any], Set(object.keys) == ["records"],
              let records = object["records"] as? [Any]
        else { throw GatewayError.invalidRequest("The body must be an object with `records`, a list of usage events.", param: "records") }
        guard (1...Self.maxBatch).contains(records.count) else {
            throw GatewayError.invalidRequest("`records` holds 1 to \(Self.maxBatch) events.", param: "records")
        }
        struct Result: Encodable { var index: Int; var success: Bool; var created = false; var id: Int64?; var error: String? }
        var results: [Result] = []
        var valid: [(index: Int, event: NewUsageEvent)] = []
        var users: [String: UserRecord] = [:]
        for (index, item) in records.enumerated() {
            do {
                guard let fields = item as? [String: Any] else { throw GatewayError.invalidRequest("An event must be an object.") }
                if let unknown = fields.keys.sorted().first(where: { !Self.eventFields.contains($0) }) {
                    throw GatewayError.invalidRequest("Unknown field `\(unknown)`.", param: unknown)
                }
                let raw = try JSONSerialization.data(withJSONObject: fields)
                let body = try APIJSON.decoder.decode(EventBody.self, from: raw)
                guard let name = body.userId else { throw GatewayError.invalidRequest("Each event names its `user_id`.", param: "user_id") }
                let user: UserRecord
                if let known = users[name] { user = known } else { user = try await Metering.user(named: name, store: api.store) }
                users[name] = user
                let key = body.requestId ?? "\(context.requestID):\(index)"
                valid.append((index, try newEvent(body, raw: raw, user: user.id, service: try context.serviceID(for: .usageWrite), requestID: key)))
                results.append(Result(index: index, success: true))
            } catch let error as GatewayError {
                results.append(Result(index: index, success: false, error: error.message))
            } catch {
                results.append(Result(index: index, success: false, error: "The event is not valid JSON of the expected types."))
            }
        }
        let written = try await api.store.recordUsageEvents(valid.map(\.event))
        for ((index, _), (record, created)) in zip(valid, written) {
            results[index].id = record.id
            results[index].created = created
        }
        let recorded = results.filter(\.success).count
        return try Metering.envelope("Recorded \(recorded) of \(records.count) usage events", results)
    }

    /// The event to store: priced from the manifest when it carries no charge.
    private func newEvent(_ body: EventBody, raw: Data, user: Int64, service: Int64, requestID: String) throws -> NewUsageEvent {
        guard (1...100).contains(body.eventType.count) else { throw GatewayError.invalidRequest("`event_type` is 1 to 100 characters.", param: "event_type") }
        guard (1...200).contains(requestID.count) else { throw GatewayError.invalidRequest("`request_id` is 1 to 200 characters.", param: "request_id") }
        let prompt = body.promptTokens ?? 0
        let completion = body.completionTokens ?? 0
        for (name, value) in [("prompt_tokens", prompt), ("completion_tokens", completion), ("tokens_used", body.tokensUsed ?? 0)]
        where !(0...1_000_000_000_000).contains(value) {
            throw GatewayError.invalidRequest("`\(name)` must be from 0 to 10^12.", param: name)
        }
        let charged: Credits
        let method: String
        if let given = body.creditsCharged?.credits {
            guard given >= .zero, given <= CreditRoutes.maxBalance else {
                throw GatewayError.invalidRequest("`credits_charged` must be from 0 to \(CreditRoutes.maxBalance).", param: "credits_charged")
            }
            (charged, method) = (given, "provided")
        } else if let model = body.modelName, let price = price(model: model, provider: body.provider) {
            let usage = TokenUsage(promptTokens: Int(prompt), completionTokens: Int(completion))
            (charged, method) = (Pricing(creditsPerUSD: api.creditsPerUSD).cost(of: usage, at: price), "manifest_price")
        } else {
            throw GatewayError.invalidRequest(
                "Send `credits_charged`, or a `model_name` Sluice has a price for.", param: body.modelName == nil ? "credits_charged" : "model_name")
        }
        let object = (try? JSONSerialization.jsonObject(with: raw)) as? [String: Any] ?? [:]
        let extras = object.filter { Self.keptAsMetadata.contains($0.key) && !($0.value is NSNull) }
        let metadata = extras.isEmpty ? nil : String(decoding: try JSONSerialization.data(withJSONObject: extras, options: [.sortedKeys]), as: UTF8.self)
        return NewUsageEvent(
            userID: user, serviceAccountID: service, requestID: requestID, eventType: body.eventType, endpoint: body.endpoint,
            modelName: body.modelName, provider: body.provider, promptTokens: prompt, completionTokens: completion,
            tokensUsed: body.tokensUsed ?? prompt + completion, creditsCharged: charged, calculationMethod: method, sessionID: body.sessionId,
            traceID: body.traceId, metadata: metadata)
    }

    /// The model's price in its provider's manifest, or in the first manifest (by id) that lists it.
    func price(model: String, provider: String?) -> Price? {
        let manifests = provider.flatMap { api.catalog[$0] }.map { [$0] } ?? api.catalog.providers.values.sorted { $0.id < $1.id }
        return manifests.lazy.compactMap { $0.models.first { $0.id == model }?.price }.first
    }

    // MARK: Reading

    @Sendable func list(_ request: Request, context: ServiceContext) async throws -> Response {
        let user = try await Metering.user(context, store: api.store)
        let query = QueryParameters(request)
        let events = try await api.store.usageEvents(UsageEventQuery(
            userID: user.id, eventType: query.string("event_type"), modelName: query.string("model_name"), from: try query.date("start_date"),
            to: try query.date("end_date"),
            page: PageRequest(limit: try query.int("limit", in: 1...200) ?? 50, offset: try query.int("offset", in: 0...1_000_000) ?? 0)))
        return try Metering.envelope("Retrieved \(events.count) usage records", events.map { EventView($0, user: user) })
    }

    @Sendable func stats(_ request: Request, context: ServiceContext) async throws -> Response {
        let user = try await Metering.user(context, store: api.store)
        let query = QueryParameters(request)
        let type = query.string("event_type")
        let model = query.string("model_name")
        let from = try query.date("start_date")
        let to = try query.date("end_date")
        var view = UsageStatsView(start: from, end: to)
        if type != UsageStatsView.gatewayType {
            view.add(try await api.store.usageEventStats(UsageEventQuery(userID: user.id, eventType: type, modelName: model, from: from, to: to)))
        }
        if type == nil || type == UsageStatsView.gatewayType {
            view.add(gateway: try await api.store.usageStats(UsageQuery(userID: user.id, model: model, from: from, to: to)))
        }
        return try Metering.envelope("Statistics retrieved successfully", view)
    }
}
