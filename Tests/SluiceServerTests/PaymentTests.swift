import Foundation
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

/// Stripe Checkout for packs, and the webhook that credits them: signed, once, and only when paid.
@Suite struct PaymentTests {
    typealias S = StripeHarness

    @Test func aPaidPackIsCreditedOnceWithItsStripeObjectNamed() async throws {
        try await S.run { s in
            let user = try await s.h.signUp()
            let packs = try await s.h.api("/api/payments/packs", as: user)
            #expect(packs.list.first?["name"] as? String == "starter")
            #expect(packs.list.first?["price"] as? Double == 5)

            let sessionID = try await s.buyStarter(as: user)
            let calls = s.stripe.calls
            #expect(calls.map(\.path) == ["/v1/customers", "/v1/checkout/sessions"])
            let checkout = try #require(calls.last)
            let customer = try #require(try await s.h.gateway.store.stripeCustomer(userID: user.userID))
            #expect(checkout.form["customer"] == customer)
            #expect(checkout.form["mode"] == "payment")
            #expect(checkout.form["line_items[0][price_data][unit_amount]"] == "500")
            #expect(checkout.form["line_items[0][price_data][currency]"] == "usd")
            #expect(checkout.authorization == "Bearer \(s.stripe.secretKey)")
            #expect(checkout.idempotencyKey != nil)

            // Completed but not paid (a bank debit still clearing): nothing yet.
            let unpaid = try await s.deliver(S.event("checkout.session.completed", S.session(sessionID, paid: false, customer: customer)))
            #expect(unpaid.status == 200)
            #expect(unpaid.json?["outcome"] as? String == "ignored")
            #expect(try await s.balance(user.userID) == .zero)

            let paid = S.event("checkout.session.async_payment_succeeded", S.session(sessionID, customer: customer))
            #expect(try await s.deliver(paid).json?["outcome"] as? String == "processed")
            #expect(try await s.balance(user.userID) == Credits(whole: 10))
            // Stripe delivers again: nothing more.
            #expect(try await s.deliver(paid).json?["outcome"] as? String == "duplicate")
            // Another event about the same session: its ledger reference is taken already.
            #expect(try await s.deliver(S.event("checkout.session.completed", S.session(sessionID, customer: customer))).status == 200)
            #expect(try await s.balance(user.userID) == Credits(whole: 10))

            let ledger = try await s.h.gateway.store.ledger(userID: user.userID)
            #expect(ledger.count == 1)
            #expect(ledger.first?.kind == .recharge)
            #expect(ledger.first?.referenceID == "stripe:\(sessionID)")
            #expect(ledger.first?.note?.contains(sessionID) == true)
            let activity = try await s.h.gateway.store.activity(userID: user.userID, page: PageRequest())
            #expect(activity.contains { $0.action == "payment_credited" && $0.detail?.contains(sessionID) == true })
            // The held balance follows the ledger: the credits can be spent right away.
            #expect(try await s.h.gateway.credits.available(userID: user.userID) == Credits(whole: 10))
        }
    }

    @Test func anEventStripeDidNotSignChangesNothing() async throws {
        try await S.run { s in
            let user = try await s.h.signUp()
            let sessionID = try await s.buyStarter(as: user)
            let body = S.event("checkout.session.completed", S.session(sessionID))
            let now = Int64(Date().timeIntervalSince1970)
            let refused: [(String, String?)] = [
                ("wrong secret", S.signature(body, secret: "whsec_someone_else")),
                ("stale timestamp", S.signature(body, at: now - 400)),
                ("future timestamp", S.signature(body, at: now + 400)),
                ("no header", ""),
                ("garbage header", "t=abc,v1=zz"),
                ("v0 only", S.signature(body).replacingOccurrences(of: "v1=", with: "v0=")),
            ]
            for (why, signature) in refused {
                let reply = try await s.deliver(body, signature: signature)
                #expect(reply.status == 400, "\(why)")
                #expect(reply.errorCode == "invalid_signature", "\(why)")
            }
            // Signed, then tampered with: the signature no longer matches the body.
            let tampered = body.replacingOccurrences(of: "\"paid\"", with: "\"paid\" ")
            #expect(try await s.deliver(tampered, signature: S.signature(body)).status == 400)
            #expect(try await s.balance(user.userID) == .zero)
            #expect(try await s.h.gateway.store.ledger(userID: user.userID).isEmpty)

            // Signed properly and not JSON Stripe would send: a clean 400 too.
            let junk = #"{"id":"evt_1"}"#
            let reply = try await s.deliver(junk)
            #expect(reply.status == 400)
            #expect(reply.errorCode == "invalid_event")

            // While a secret is rolled Stripe sends one v1 per secret; one that matches is enough.
            let rolled = S.signature(body) + ",v1=" + String(repeating: "0", count: 64)
            #expect(try await s.deliver(body, signature: rolled).status == 200)
            #expect(try await s.balance(user.userID) == Credits(whole: 10))
        }
    }

    @Test func aSecondSigningSecretIsAccepted() async throws {
        try await S.run(configure: { $0.payments.stripe.webhookSecrets = ["whsec_new", S.secret] }) { s in
            let user = try await s.h.signUp()
            let sessionID = try await s.buyStarter(as: user)
            let body = S.event("checkout.session.completed", S.session(sessionID))
            #expect(try await s.deliver(body, signature: S.signature(body, secret: "whsec_new")).status == 200)
            #expect(try await s.balance(user.userID) == Credits(whole: 10))
        }
    }

    @Test func twentyConcurrentDeliveriesCreditOnce() async throws {
        try await S.run { s in
            let user = try await s.h.signUp()
            let sessionID = try await s.buyStarter(as: user)
            let body = S.event("checkout.session.completed", S.session(sessionID))
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<20 { group.addTask { try await s.deliver(body).status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            // Each delivery is processed, found done, or told to come back (409) while another runs.
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 409 }, "\(statuses)")
            #expect(statuses.contains(200))
            #expect(try await s.balance(user.userID) == Credits(whole: 10))
            #expect(try await s.h.gateway.store.ledger(userID: user.userID).count == 1)
            // A retry after the 409s finds the event done.
            #expect(try await s.deliver(body).json?["outcome"] as? String == "duplicate")
        }
    }

    @Test func badRequestsAndAStripeOutageAreAnsweredCleanly() async throws {
        try await S.run { s in
            let user = try await s.h.signUp()
            let unknown = try await s.h.api("/api/payments/checkout", method: .POST, body: #"{"pack":"huge"}"#, as: user)
            #expect(unknown.status == 400)
            #expect(unknown.error?["param"] as? String == "pack")
            #expect(try await s.h.api("/api/payments/checkout", method: .POST, body: #"{"pack":"starter","price":1}"#, as: user).status == 400)
            #expect(try await s.h.api("/api/payments/checkout", method: .POST, body: #"{"pack":"starter"}"#, as: nil).status == 401)
            #expect(try await s.h.api("/api/subscriptions", method: .POST, body: #"{"plan":"enterprise"}"#, as: user).status == 400)
            #expect(try await s.h.api("/api/subscriptions/portal", method: .POST, as: user).status == 409)

            s.stripe.fail(with: 500)
            let outage = try await s.h.api("/api/payments/checkout", method: .POST, body: #"{"pack":"starter"}"#, as: user)
            #expect(outage.status == 502)
            #expect(outage.errorCode == "upstream_error")
            // Stripe's own words stay in the log.
            #expect(!outage.text.contains("mock stripe refused"))
            s.stripe.fail(with: nil)

            // An event about a session Sluice never opened is received and ignored.
            let stranger = try await s.deliver(S.event("checkout.session.completed", S.session("cs_elsewhere")))
            #expect(stranger.status == 200)
            #expect(stranger.json?["outcome"] as? String == "ignored")
            #expect(try await s.deliver(S.event("customer.created", ["id": "cus_x"])).json?["outcome"] as? String == "ignored")
        }
    }

    @Test func aRetriedCheckoutWithTheSameIdempotencyKeyIsTheSameSession() async throws {
        try await S.run { s in
            let user = try await s.h.signUp()
            var ids: [String] = []
            for _ in 0..<2 {
                let reply = try await s.h.api(
                    "/api/payments/checkout", method: .POST, body: #"{"pack":"starter"}"#, as: user, headers: [("Idempotency-Key", "buy-1")])
                ids.append(try #require(reply.json?["id"] as? String))
            }
            #expect(ids[0] == ids[1])
            #expect(s.stripe.calls.filter { $0.path == "/v1/customers" }.count == 1)
        }
    }

    @Test func theDocumentDescribesThePaymentRoutes() async throws {
        try await S.run { s in
            let reply = try await s.h.request("/openapi.json", method: .GET, key: nil)
            let (status, problems) = try await runPython(
                Harness.repoRoot.appendingPathComponent("Tests/conformance/validate_openapi.py"), arguments: [], input: reply.body)
            #expect(status == 0, "\(problems)")
            let paths = try #require(reply.json?["paths"] as? [String: [String: Any]])
            for (path, method) in [
                ("/api/payments/packs", "get"), ("/api/payments/checkout", "post"), ("/api/subscriptions", "post"),
                ("/api/subscriptions/portal", "post"), ("/api/subscriptions/me", "get"), ("/api/webhooks/stripe", "post"),
                ("/api/admin/payments/shortfalls", "get"),
            ] {
                #expect(paths[path]?[method] != nil, "\(method) \(path) is not described")
            }
        }
    }

    @Test func withoutStripeThePaymentRoutesAreNotThere() async throws {
        try await Harness.run { h in
            let user = try await h.signUp()
            #expect(try await h.api("/api/payments/packs", as: user).status == 404)
            #expect(try await h.request("/api/webhooks/stripe", body: "{}", key: nil).status == 404)
        }
    }
}
