import Foundation
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

/// Paid plans through Stripe subscriptions, and refunds that take back only unspent credits.
@Suite struct SubscriptionAndRefundTests {
    typealias S = StripeHarness

    struct Mine: Decodable {
        var plan: String
        var subscriptionId: String?
        var status: String?
        var currentPeriodEnd: String?
        var cancelAtPeriodEnd: Bool
    }

    @Test func anInvoiceBeforeItsCheckoutStillEndsInTheRightPlanAndBalance() async throws {
        try await S.run { s in
            let user = try await s.h.signUp()
            let started = try await s.h.api("/api/subscriptions", method: .POST, body: #"{"plan":"pro"}"#, as: user)
            #expect(started.status == 201, "\(started.text)")
            let sessionID = try #require(started.json?["id"] as? String)
            let checkout = try #require(s.stripe.calls.last)
            #expect(checkout.form["mode"] == "subscription")
            #expect(checkout.form["line_items[0][price]"] == S.proPrice)
            let customer = try #require(try await s.h.gateway.store.stripeCustomer(userID: user.userID))

            let t0 = Int64(Date().timeIntervalSince1970)
            let periodStart: Int64 = 1_800_000_000
            let invoice = S.event("invoice.paid", created: t0, S.invoice("in_1", subscription: "sub_1", customer: customer, periodStart: periodStart))
            #expect(try await s.deliver(invoice).json?["outcome"] as? String == "processed")
            #expect(try await s.h.gateway.store.user(id: user.userID)?.plan == "pro")
            #expect(try await s.balance(user.userID) == Credits(whole: 20))

            // The checkout's own event arrives after, and neither grants again nor undoes the plan.
            let completed = S.event(
                "checkout.session.completed", created: t0 - 5,
                S.session(sessionID, customer: customer, mode: "subscription", subscription: "sub_1"))
            #expect(try await s.deliver(completed).status == 200)
            #expect(try await s.balance(user.userID) == Credits(whole: 20))
            let mine = try await s.h.api("/api/subscriptions/me", as: user).decode(Mine.self)
            #expect(mine.plan == "pro")
            #expect(mine.subscriptionId == "sub_1")
            #expect(mine.status == "active")
            #expect(mine.currentPeriodEnd != nil)

            // A second invoice event for the same period (Stripe sends invoice.paid again, with a
            // new event id) grants nothing more; the next period's does.
            let again = S.event("invoice.paid", created: t0 + 1, S.invoice("in_1", subscription: "sub_1", customer: customer, periodStart: periodStart))
            #expect(try await s.deliver(again).status == 200)
            #expect(try await s.balance(user.userID) == Credits(whole: 20))
            let next = S.event(
                "invoice.paid", created: t0 + 2, S.invoice("in_2", subscription: "sub_1", customer: customer, periodStart: periodStart + 30 * 86400))
            #expect(try await s.deliver(next).status == 200)
            #expect(try await s.balance(user.userID) == Credits(whole: 40))
            // A trial's invoice, paid at zero, grants nothing.
            var trial = S.invoice("in_trial", subscription: "sub_1", customer: customer, periodStart: periodStart + 60 * 86400)
            trial["amount_paid"] = 0
            #expect(try await s.deliver(S.event("invoice.paid", created: t0 + 2, trial)).status == 200)
            #expect(try await s.balance(user.userID) == Credits(whole: 40))
            let grants = try await s.h.gateway.store.ledger(userID: user.userID).filter { $0.kind == .grant }
            #expect(grants.map(\.referenceID) == ["stripe:sub_1:pro:\(periodStart)", "stripe:sub_1:pro:\(periodStart + 30 * 86400)"])
            #expect(grants.allSatisfy { $0.note?.contains("Stripe invoice in_") == true })

            // Already subscribed: a second subscription is refused; the portal is the way.
            #expect(try await s.h.api("/api/subscriptions", method: .POST, body: #"{"plan":"pro"}"#, as: user).status == 409)
            let portal = try await s.h.api("/api/subscriptions/portal", method: .POST, as: user)
            #expect(portal.status == 200)
            #expect(s.stripe.calls.last?.form["customer"] == customer)

            // Cancelled at the period end: the plan stays until Stripe deletes the subscription.
            let cancelling = S.event(
                "customer.subscription.updated", created: t0 + 3, S.subscription("sub_1", status: "active", customer: customer, cancelAtPeriodEnd: true))
            #expect(try await s.deliver(cancelling).status == 200)
            #expect(try await s.h.api("/api/subscriptions/me", as: user).decode(Mine.self).cancelAtPeriodEnd)
            #expect(try await s.h.gateway.store.user(id: user.userID)?.plan == "pro")
            let deleted = S.event("customer.subscription.deleted", created: t0 + 10, S.subscription("sub_1", status: "canceled", customer: customer))
            #expect(try await s.deliver(deleted).status == 200)
            #expect(try await s.h.gateway.store.user(id: user.userID)?.plan == "free")

            // An older update delivered late does not bring the plan back.
            let late = S.event("customer.subscription.updated", created: t0 + 4, S.subscription("sub_1", status: "active", customer: customer))
            #expect(try await s.deliver(late).status == 200)
            #expect(try await s.h.gateway.store.user(id: user.userID)?.plan == "free")
            #expect(try await s.h.api("/api/subscriptions/me", as: user).decode(Mine.self).status == "canceled")
            // Credits already granted stay: they were paid for.
            #expect(try await s.balance(user.userID) == Credits(whole: 40))
            let activity = try await s.h.gateway.store.activity(userID: user.userID, page: PageRequest())
            #expect(activity.contains { $0.action == "plan_changed" && $0.detail?.contains("sub_1") == true })
        }
    }

    @Test func planGrantsByTheCalendarSkipPlansStripeInvoices() async throws {
        try await S.run { s in
            let user = try await s.h.signUp()
            _ = try await s.h.gateway.store.updateUser(id: user.userID, UserUpdate(plan: "pro"))
            let record = try #require(try await s.h.gateway.store.user(id: user.userID))
            #expect(try await s.h.gateway.grants.grant(record) == nil)
            #expect(try await s.balance(user.userID) == .zero)
        }
    }

    @Test func aRefundTakesBackOnlyWhatIsUnspentAndFlagsTheRest() async throws {
        try await S.run { s in
            let user = try await s.h.signUp()
            let admin = try await s.h.signInAdmin()
            let sessionID = try await s.buyStarter(as: user)
            #expect(try await s.deliver(S.event("checkout.session.completed", S.session(sessionID, intent: "pi_pack"))).status == 200)
            #expect(try await s.balance(user.userID) == Credits(whole: 10))

            // Half refunded: half the credits go back.
            #expect(try await s.deliver(S.event("charge.refunded", S.charge("ch_1", intent: "pi_pack", refunded: 250))).status == 200)
            #expect(try await s.balance(user.userID) == Credits(whole: 5))

            // The user spends 4 of the 5 left.
            _ = try await s.h.gateway.store.credit(userID: user.userID, amount: Credits(whole: -4), kind: .adjust, referenceID: "spent", note: nil)
            await s.h.gateway.credits.invalidate(userID: user.userID)

            // The rest refunded: 5 are due, 1 is there; the balance stops at zero.
            let full = S.event("charge.refunded", S.charge("ch_1", intent: "pi_pack", refunded: 500))
            #expect(try await s.deliver(full).status == 200)
            #expect(try await s.balance(user.userID) == .zero)
            #expect(try await s.deliver(full).json?["outcome"] as? String == "duplicate")
            // The same refund state in another event id takes nothing more either.
            #expect(try await s.deliver(S.event("charge.refunded", S.charge("ch_1", intent: "pi_pack", refunded: 500))).status == 200)
            #expect(try await s.balance(user.userID) == .zero)

            let refunds = try await s.h.gateway.store.ledger(userID: user.userID).filter { $0.kind == .refund }
            #expect(refunds.map(\.amount) == [Credits(whole: -5), Credits(whole: -1)])
            #expect(refunds.allSatisfy { $0.balanceAfter >= .zero && $0.note?.contains("ch_1") == true })
            let shortfalls = try await s.h.api("/api/admin/payments/shortfalls", as: admin)
            #expect(shortfalls.status == 200)
            #expect(shortfalls.list.count == 1)
            #expect(shortfalls.list.first?["shortfall"] as? Double == 4)
            #expect(shortfalls.list.first?["charge_id"] as? String == "ch_1")
            #expect(try await s.h.api("/api/admin/payments/shortfalls", as: user).status == 403)
        }
    }

    @Test func aRefundLeavesCreditsARunningRequestHolds() async throws {
        try await S.run { s in
            try await s.h.account(secret: "up")
            let user = try await s.h.signUp()
            let sessionID = try await s.buyStarter(as: user)
            #expect(try await s.deliver(S.event("checkout.session.completed", S.session(sessionID, intent: "pi_pack"))).status == 200)
            let key = try #require(try await s.h.api("/api/api-keys", method: .POST, body: "{}", as: user).json?["key"] as? String)

            var stream = try await s.h.heldStream(key)
            let available = try await s.h.gateway.credits.available(userID: user.userID)
            let held = Credits(whole: 10) - available
            #expect(held > .zero)

            // All refunded while the stream runs: what it holds cannot be taken back.
            #expect(try await s.deliver(S.event("charge.refunded", S.charge("ch_9", intent: "pi_pack", refunded: 500))).status == 200)
            #expect(try await s.balance(user.userID) == held)
            s.h.control.releaseGate()
            _ = try await stream.rest()
            await s.h.settled()
            let balance = try await s.balance(user.userID)
            #expect(balance >= .zero)
            let charged = try await s.h.gateway.store.usageLogs(userID: user.userID).reduce(Credits.zero) { $0 + $1.charged }
            #expect(balance == held - charged)
            // The ledger still balances: every entry moves the balance by its amount.
            let ledger = try await s.h.gateway.store.ledger(userID: user.userID)
            #expect(ledger.reduce(Credits.zero) { $0 + $1.amount } == balance)
            #expect(await s.h.gateway.credits.outstandingHolds == 0)
        }
    }
}
