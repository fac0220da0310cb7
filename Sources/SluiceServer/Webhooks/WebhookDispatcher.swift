import Foundation
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import SluiceCore
import SluiceProviders
import SluiceStore

/// Sends the outbox's events to the endpoints admins registered, off every request's path.
///
/// Each pass, every `poll`: tell the store which event types to record (those some endpoint
/// wants), fan new outbox events out into one delivery per endpoint — summing a user's
/// `credit.consumed` events into one and finding the `balance.low` crossings among them — then
/// send the due deliveries. A delivery is signed (`Sluice-Signature: t=…,v1=<HMAC-SHA256 of
/// "t.body">`, as Stripe signs), retried with exponential backoff until `giveUpAfter`, and sent in
/// order per user and endpoint. A receiver that is down or hangs delays only its own deliveries:
/// requests and settlements never wait on it, and the outbox survives a restart.
final class WebhookDispatcher: Service, Sendable {
    struct Settings: Sendable {
        var poll: Duration
        var retryBase: TimeInterval
        var retryMax: TimeInterval
        var giveUpAfter: TimeInterval
        var timeout: TimeAmount
        var plans: [String: SluiceConfig.Plan]

        init(_ config: SluiceConfig) {
            let webhooks = config.webhooks
            poll = .milliseconds(webhooks.pollMillis)
            retryBase = TimeInterval(webhooks.retryBaseMillis) / 1000
            retryMax = TimeInterval(webhooks.retryMaxSeconds)
            giveUpAfter = TimeInterval(webhooks.giveUpHours) * 3600
            timeout = .seconds(Int64(webhooks.timeoutSeconds))
            plans = config.plans
        }
    }

    private let store: any GatewayStore
    private let secrets: SecretBox
    private let http: UpstreamHTTPClient
    private let settings: Settings
    private let logger: Logger

    init(store: any GatewayStore, secrets: SecretBox, http: UpstreamHTTPClient, settings: Settings, logger: Logger) {
        self.store = store
        self.secrets = secrets
        self.http = http
        self.settings = settings
        self.logger = logger
    }

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while true {
                await self.pass()
                try await Task.sleep(for: self.settings.poll)
            }
        }
    }

    /// One pass; a failure is logged and the next pass tries again, since nothing left the outbox.
    func pass(now: Date = Date()) async {
        do {
            let endpoints = try await refresh()
            try await fanOut(endpoints, now: now)
            try await deliverDue(endpoints, now: now)
        } catch is CancellationError {
            return
        } catch {
            logger.warning("webhook pass failed; the next one retries", metadata: ["error": "\(error)"])
        }
    }

    /// Reads the endpoints and has the store record the types they want. Called by each pass, and
    /// by the admin routes at once when endpoints change.
    @discardableResult
    func refresh() async throws -> [WebhookEndpointRecord] {
        let endpoints = try await store.webhookEndpoints()
        var types = Set(endpoints.flatMap(\.types))
        // balance.low is found among the consumed events.
        if types.contains(.balanceLow) { types.insert(.creditConsumed) }
        store.recordWebhookEvents(of: types)
        return endpoints
    }

    // MARK: Fan-out

    private func fanOut(_ endpoints: [WebhookEndpointRecord], now: Date) async throws {
        while true {
            let events = try await store.pendingWebhookEvents(limit: 500)
            guard !events.isEmpty else { return }
            let deliveries = try await plan(events, endpoints: endpoints)
            // Another instance took these first: it sends them; look again next pass.
            guard try await store.fanOutWebhookEvents(ids: events.map(\.id), deliveries: deliveries) else { return }
            if events.count < 500 { return }
        }
    }

    /// The deliveries `events` make: each event for each endpoint that wants its type, with a
    /// user's consumption in this pass summed into one event, and a balance.low for each time a
    /// balance fell below its threshold.
    func plan(_ events: [WebhookEventRecord], endpoints: [WebhookEndpointRecord]) async throws -> [NewWebhookDelivery] {
        var outgoing: [WebhookEventRecord] = []
        var consumed: [Int64: (first: Int, events: [WebhookPayload.Consumed])] = [:]
        for event in events {
            if event.type == .creditConsumed, let user = event.userID,
               let payload = try? WebhookPayload.decoder.decode(WebhookPayload.Consumed.self, from: Data(event.payload.utf8)) {
                if consumed[user] == nil {
                    consumed[user] = (outgoing.count, [])
                    outgoing.append(event)  // stands in for the sum, at the first one's place in order
                }
                consumed[user]?.events.append(payload)
                continue
            }
            outgoing.append(event)
        }
        var extra: [(after: Int, WebhookEventRecord)] = []
        for (user, group) in consumed {
            let sum = WebhookPayload.Consumed(
                userId: user, amount: group.events.reduce(0) { $0 + $1.amount }, requests: group.events.reduce(0) { $0 + $1.requests },
                balanceBefore: group.events.first?.balanceBefore ?? 0, balanceAfter: group.events.last?.balanceAfter ?? 0)
            outgoing[group.first].payload = try WebhookPayload.text(sum)
            let threshold = try await lowBalanceThreshold(user: user)
            guard threshold > 0 else { continue }
            // Once per crossing: an event whose balance went from at or above to below.
            for crossing in group.events where crossing.balanceBefore >= threshold && crossing.balanceAfter < threshold {
                let low = BalanceLow(userId: user, balance: crossing.balanceAfter, threshold: threshold)
                extra.append((group.first, WebhookEventRecord(
                    id: outgoing[group.first].id, userID: user, type: .balanceLow, payload: try WebhookPayload.text(low),
                    createdAt: outgoing[group.first].createdAt)))
            }
        }
        for (index, event) in extra.sorted(by: { $0.after > $1.after }) { outgoing.insert(event, at: index + 1) }
        return try outgoing.flatMap { event in
            try endpoints.filter { $0.types.contains(event.type) }.map { endpoint in
                NewWebhookDelivery(
                    endpointID: endpoint.id, userID: event.userID, type: event.type, payload: try Self.body(event), createdAt: event.createdAt)
            }
        }
    }

    struct BalanceLow: Codable {
        var userId: Int64
        var balance: Decimal
        var threshold: Decimal
    }

    /// What a receiver gets: the event's id, type and time, and its data. A balance.low shares the
    /// outbox row of the consumption it was found in, so its id says so.
    static func body(_ event: WebhookEventRecord) throws -> String {
        let data = try JSONDecoder().decode([String: JSONValue].self, from: Data(event.payload.utf8))
        struct Body: Encodable { var id: String; var type: String; var createdAt: Date; var data: [String: JSONValue] }
        let id = event.type == .balanceLow ? "evt_\(event.id)_low" : "evt_\(event.id)"
        return String(decoding: try APIJSON.encoder.encode(Body(id: id, type: event.type.rawValue, createdAt: event.createdAt, data: data)), as: UTF8.self)
    }

    private func lowBalanceThreshold(user: Int64) async throws -> Decimal {
        guard let record = try await store.user(id: user) else { return 0 }
        let threshold = record.lowBalanceThreshold ?? settings.plans[record.plan]?.lowBalanceCredits ?? .zero
        return WebhookPayload.credits(threshold)
    }

    // MARK: Delivery

    private func deliverDue(_ endpoints: [WebhookEndpointRecord], now: Date) async throws {
        let byID = Dictionary(uniqueKeysWithValues: endpoints.map { ($0.id, $0) })
        let lease = now.addingTimeInterval(TimeInterval(settings.timeout.nanoseconds) / 1e9 * 3)
        let due = try await store.claimDueWebhookDeliveries(now: now, until: lease, limit: 64)
        await withTaskGroup(of: Void.self) { group in
            for delivery in due {
                group.addTask { await self.deliver(delivery, to: byID[delivery.delivery.endpointID]) }
            }
        }
    }

    private func deliver(_ delivery: WebhookDeliveryRecord, to endpoint: WebhookEndpointRecord?) async {
        let outcome: WebhookDeliveryOutcome
        if let endpoint {
            outcome = await send(delivery, to: endpoint)
        } else {
            outcome = .failed(status: nil, error: "the endpoint was removed")
        }
        do { try await store.finishWebhookDelivery(id: delivery.id, outcome) } catch {
            // The lease lapses and the delivery is sent again: at least once, never lost.
            logger.warning("webhook delivery result not saved", metadata: ["delivery": "\(delivery.id)", "error": "\(error)"])
        }
    }

    private func send(_ delivery: WebhookDeliveryRecord, to endpoint: WebhookEndpointRecord) async -> WebhookDeliveryOutcome {
        let now = Date()
        var status: Int?
        var problem: String
        do {
            let secret = try secrets.open(endpoint.secret)
            let body = delivery.delivery.payload
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "application/json")
            headers.add(name: "user-agent", value: "Sluice-Webhooks")
            headers.add(name: "sluice-event", value: delivery.delivery.type.rawValue)
            headers.add(name: "sluice-delivery", value: String(delivery.id))
            headers.add(name: "sluice-signature", value: StripeSignature.header(body: body, secret: secret, timestamp: Int64(now.timeIntervalSince1970)))
            let response = try await http.execute(.POST, url: endpoint.url, headers: headers, body: ByteBuffer(string: body), headTimeout: settings.timeout)
            _ = try? await response.body.collect(upTo: 64 << 10)
            if (200..<300).contains(response.status) { return .delivered(status: response.status, at: Date()) }
            status = response.status
            problem = "the receiver answered HTTP \(response.status)"
        } catch {
            problem = "the receiver could not be reached (\(type(of: error)))"
        }
        if now.timeIntervalSince(delivery.delivery.createdAt) >= settings.giveUpAfter { return .failed(status: status, error: problem) }
        let wait = min(settings.retryBase * pow(2, Double(delivery.attempts)), settings.retryMax)
        return .retry(status: status, error: problem, at: now.addingTimeInterval(wait))
    }
}
