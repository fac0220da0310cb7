import Crypto
import Foundation
import SluiceCore
import SluiceMockUpstream
import SluiceServer
import Testing

/// A gateway with payments on, in front of the loopback fake of the Stripe API, and webhook
/// events signed as Stripe signs them (computed here, not by the code under test).
struct StripeHarness {
    static let secret = "whsec_test_sluice"
    static let proPrice = "price_pro_monthly"
    static let starter = SluiceConfig.Pack(name: "starter", credits: Credits(whole: 10), priceCents: 500)

    let h: Harness
    let stripe: MockStripe

    static func run(configure: @escaping (inout SluiceConfig) -> Void = { _ in }, _ body: (StripeHarness) async throws -> Void) async throws {
        let stripe = MockStripe()
        let (ports, sink) = AsyncStream.makeStream(of: Int.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await stripe.application { sink.yield($0) }.run() }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let outcome = await Result {
                try await Harness.run(configure: { config in
                    config.payments.stripe.secretKey = stripe.secretKey
                    config.payments.stripe.webhookSecrets = [secret]
                    config.payments.stripe.apiBase = "http://127.0.0.1:\(port)"
                    config.payments.stripe.packs = [starter.name: starter]
                    config.payments.stripe.planPrices = ["pro": proPrice]
                    config.plans["pro"]?.monthlyCredits = Credits(whole: 20)
                    configure(&config)
                }) { h in try await body(StripeHarness(h: h, stripe: stripe)) }
            }
            group.cancelAll()
            try outcome.get()
        }
    }

    static func signature(_ body: String, secret: String = secret, at timestamp: Int64 = Int64(Date().timeIntervalSince1970)) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data("\(timestamp).\(body)".utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return "t=\(timestamp),v1=" + mac.map { String(format: "%02x", $0) }.joined()
    }

    /// Posts `body` to the webhook with `signature` (by default a valid one).
    func deliver(_ body: String, signature: String? = nil) async throws -> Harness.Reply {
        try await h.request("/api/webhooks/stripe", body: body, key: nil, headers: [("Stripe-Signature", signature ?? Self.signature(body))])
    }

    /// Starts a pack checkout as `session` and returns the Checkout Session's id.
    func buyStarter(as session: Harness.Session) async throws -> String {
        let reply = try await h.api("/api/payments/checkout", method: .POST, body: #"{"pack":"starter"}"#, as: session)
        try #require(reply.status == 201, "checkout: \(reply.text)")
        return try #require(reply.json?["id"] as? String)
    }

    func balance(_ user: Int64) async throws -> Credits { try #require(try await h.gateway.store.balance(userID: user)) }

    // MARK: Events, in Stripe's shapes

    static func event(_ type: String, id: String = "evt_\(UUID().uuidString.prefix(12))", created: Int64 = Int64(Date().timeIntervalSince1970), _ object: [String: Any]) -> String {
        let event: [String: Any] = [
            "id": id, "object": "event", "type": type, "created": created, "api_version": "2024-06-20", "livemode": false,
            "data": ["object": object],
        ]
        return String(decoding: try! JSONSerialization.data(withJSONObject: event, options: [.sortedKeys]), as: UTF8.self)
    }

    static func session(_ id: String, paid: Bool = true, intent: String = "pi_1", customer: String = "cus_mock1", mode: String = "payment", subscription: String? = nil) -> [String: Any] {
        var object: [String: Any] = [
            "id": id, "object": "checkout.session", "mode": mode, "payment_status": paid ? "paid" : "unpaid", "status": "complete",
            "customer": customer, "amount_total": 500, "currency": "usd", "payment_intent": mode == "payment" ? intent : NSNull(),
        ]
        if let subscription { object["subscription"] = subscription }
        return object
    }

    static func invoice(_ id: String, subscription: String, customer: String = "cus_mock1", price: String = proPrice, periodStart: Int64, intent: String = "pi_inv") -> [String: Any] {
        [
            "id": id, "object": "invoice", "customer": customer, "subscription": subscription, "amount_paid": 2000, "currency": "usd",
            "payment_intent": intent, "status": "paid",
            "lines": ["object": "list", "data": [["period": ["start": periodStart, "end": periodStart + 30 * 86400], "price": ["id": price]]]],
        ]
    }

    static func subscription(_ id: String, status: String, customer: String = "cus_mock1", price: String = proPrice, cancelAtPeriodEnd: Bool = false, periodEnd: Int64 = 1_900_000_000) -> [String: Any] {
        [
            "id": id, "object": "subscription", "customer": customer, "status": status, "cancel_at_period_end": cancelAtPeriodEnd,
            "items": ["object": "list", "data": [["price": ["id": price], "current_period_end": periodEnd]]],
        ]
    }

    static func charge(_ id: String, intent: String = "pi_1", amount: Int64 = 500, refunded: Int64) -> [String: Any] {
        ["id": id, "object": "charge", "amount": amount, "amount_refunded": refunded, "payment_intent": intent, "refunded": refunded == amount]
    }
}
