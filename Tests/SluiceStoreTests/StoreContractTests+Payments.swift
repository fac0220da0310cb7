import Foundation
import SluiceCore
@testable import SluiceStore
import SluiceTestSupport
import Testing

/// Stripe's records, on SQLite and PostgreSQL alike: events claimed once, credits and refunds once
/// per reference, a refund never past the hold or the balance, and subscriptions that older
/// events cannot overwrite.
@Suite struct PaymentContractTests {
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func pack(_ id: String, user: Int64) -> NewPayment {
        NewPayment(objectID: id, userID: user, purpose: .pack, item: "starter", credits: Credits(whole: 10), amountCents: 500, currency: "usd")
    }

    func credit(_ id: String) -> PaymentCredit {
        PaymentCredit(amount: Credits(whole: 10), kind: .recharge, referenceID: "stripe:\(id)", note: "Stripe Checkout \(id)")
    }

    @Test(arguments: StoreBackend.available)
    func anEventIsClaimedByOneDeliveryAndDoneOnce(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let until = Self.t0.addingTimeInterval(60)
            #expect(try await store.claimStripeEvent(id: "evt_1", type: "x", now: Self.t0, until: until) == .claimed)
            #expect(try await store.claimStripeEvent(id: "evt_1", type: "x", now: Self.t0.addingTimeInterval(1), until: until) == .busy)
            // A claim whose holder died lapses, and the next delivery takes it over.
            #expect(try await store.claimStripeEvent(id: "evt_1", type: "x", now: until, until: until.addingTimeInterval(60)) == .claimed)
            try await store.finishStripeEvent(id: "evt_1", now: until)
            #expect(try await store.claimStripeEvent(id: "evt_1", type: "x", now: until.addingTimeInterval(999), until: until) == .done)
        }
    }

    @Test(arguments: StoreBackend.available)
    func aPaymentIsCreditedOnceAndFoundByItsIntent(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "a@x", initialCredits: .zero)
            try await store.openPayment(pack("cs_1", user: user))
            try await store.openPayment(pack("cs_1", user: user))
            #expect(try await store.payment(objectID: "cs_1")?.paid == false)
            let entries = try await withThrowingTaskGroup(of: LedgerEntry?.self) { group in
                for _ in 0..<8 { group.addTask { try await store.creditPayment(pack("cs_1", user: user), paymentIntent: "pi_1", credit: credit("cs_1")) } }
                return try await group.reduce(into: [LedgerEntry?]()) { $0.append($1) }
            }
            #expect(Set(entries.compactMap { $0?.id }).count == 1)
            #expect(try await store.balance(userID: user) == Credits(whole: 10))
            let found = try #require(try await store.payment(paymentIntent: "pi_1"))
            #expect(found.paid && found.payment.objectID == "cs_1" && found.refunded == .zero)

            // A payment with nothing to credit (a subscription's session) is marked paid only.
            var session = pack("cs_2", user: user)
            session.purpose = .subscription
            session.credits = .zero
            let none = try await store.creditPayment(
                session, paymentIntent: nil, credit: PaymentCredit(amount: .zero, kind: .grant, referenceID: "stripe:cs_2", note: ""))
            #expect(none == nil)
            #expect(try await store.payment(objectID: "cs_2")?.paid == true)
        }
    }

    @Test(arguments: StoreBackend.available)
    func aRefundTakesNoMoreThanHeldOrThereAndRecordsTheRest(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "a@x", initialCredits: .zero)
            _ = try await store.creditPayment(pack("cs_1", user: user), paymentIntent: "pi_1", credit: credit("cs_1"))
            func refund(_ reference: String, dueInAll: Int64, held: Int64) -> PaymentRefund {
                PaymentRefund(
                    objectID: "cs_1", userID: user, chargeID: "ch_1", refundedCents: 0, dueInAll: Credits(whole: dueInAll),
                    held: Credits(whole: held), referenceID: reference, note: "refund")
            }
            // 6 due, only 4 held: 4 taken, 2 short.
            guard case .applied(let first, let entry) = try await store.refundPayment(refund("r1", dueInAll: 6, held: 4)) else {
                Issue.record("first refund not applied")
                return
            }
            #expect(first.taken == Credits(whole: 4) && first.shortfall == Credits(whole: 2))
            #expect(entry?.amount == Credits(whole: -4) && entry?.kind == .refund && entry?.balanceAfter == Credits(whole: 6))
            guard case .repeated(let again) = try await store.refundPayment(refund("r1", dueInAll: 6, held: 4)) else {
                Issue.record("a repeated refund was applied again")
                return
            }
            #expect(again.taken == first.taken)
            #expect(try await store.payment(objectID: "cs_1")?.refunded == Credits(whole: 6))

            // All 10 due now: 4 more are due; held 9, but 6 are left in the balance.
            _ = try await store.credit(userID: user, amount: Credits(whole: -3), kind: .adjust, referenceID: "spent", note: nil)
            guard case .applied(let second, _) = try await store.refundPayment(refund("r2", dueInAll: 10, held: 9)) else {
                Issue.record("second refund not applied")
                return
            }
            #expect(second.taken == Credits(whole: 3) && second.shortfall == Credits(whole: 1))
            #expect(try await store.balance(userID: user) == .zero)
            let short = try await store.refundShortfalls(page: PageRequest())
            #expect(Set(short.map(\.referenceID)) == ["r1", "r2"])
            // Nothing is due any more: a further refund takes nothing and records no shortfall.
            guard case .applied(let third, let none) = try await store.refundPayment(refund("r3", dueInAll: 10, held: 5)) else { return }
            #expect(third.taken == .zero && third.shortfall == .zero && none == nil)
            #expect(try await store.refundShortfalls(page: PageRequest()).count == 2)
        }
    }

    @Test(arguments: StoreBackend.available)
    func anOlderEventCannotOverwriteASubscription(_ backend: StoreBackend) async throws {
        try await withStore(backend) { store in
            let user = try await store.createUser(email: "a@x", initialCredits: .zero)
            #expect(try await store.linkStripeCustomer(userID: user, customerID: "cus_1") == "cus_1")
            #expect(try await store.linkStripeCustomer(userID: user, customerID: "cus_2") == "cus_1", "the first link stands")
            #expect(try await store.userID(stripeCustomer: "cus_1") == user)
            #expect(try await store.userID(stripeCustomer: "cus_2") == nil)

            let active = SubscriptionRecord(
                id: "sub_1", userID: user, plan: "pro", status: "active", currentPeriodEnd: Self.t0, cancelAtPeriodEnd: false, version: 100)
            #expect(try await store.saveSubscription(active))
            var canceled = active
            canceled.status = "canceled"
            canceled.version = 200
            #expect(try await store.saveSubscription(canceled))
            var stale = active
            stale.version = 150
            #expect(try await store.saveSubscription(stale) == false)
            #expect(try await store.subscription(id: "sub_1") == canceled)
            #expect(try await store.subscription(userID: user) == canceled)
        }
    }
}
