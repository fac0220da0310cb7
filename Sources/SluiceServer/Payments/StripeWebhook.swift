import Foundation
import Logging
import SluiceCore
import SluiceStore

/// Turns verified Stripe webhook events into credits and plans.
///
/// Exactly once, whatever Stripe's delivery does: an event is claimed in the store before it is
/// handled and marked done after, so a redelivery of a handled event changes nothing, and a
/// delivery that finds another one handling it is answered 409 for Stripe to retry. Underneath,
/// every credit and refund is idempotent by its ledger reference, so even an event handled twice
/// (its claim lapsed while a stuck handler still ran) credits once. The answer is 2xx only once
/// the effect is committed.
struct StripeWebhook: Sendable {
    typealias Store = GatewayStore

    let store: any Store
    let credits: any CreditHolds
    let grants: PlanGrants
    let stripe: SluiceConfig.Stripe
    let signature: StripeSignature
    /// How long a delivery may work on an event before another may take it over.
    let claimLease: TimeInterval
    let logger: Logger

    init(store: any Store, credits: any CreditHolds, grants: PlanGrants, stripe: SluiceConfig.Stripe, claimLease: TimeInterval = 60, logger: Logger) {
        self.store = store
        self.credits = credits
        self.grants = grants
        self.stripe = stripe
        signature = StripeSignature(secrets: stripe.webhookSecrets, tolerance: TimeInterval(stripe.toleranceSeconds))
        self.claimLease = claimLease
        self.logger = logger
    }

    enum Outcome: Equatable {
        case processed
        /// Handled before: nothing was done again.
        case duplicate
        /// Verified, but about nothing Sluice sold; why, for the answer and the log.
        case ignored(String)
    }

    /// Verifies, claims and handles one delivery. Throws a `GatewayError`: 400 for a bad signature
    /// or body (nothing changed), 409 while another delivery holds the event.
    func receive(body: Data, signatureHeader: String?, now: Date) async throws -> Outcome {
        do { try signature.verify(header: signatureHeader, body: body, now: now) } catch {
            throw GatewayError.invalidRequest(error.description, param: "Stripe-Signature", code: "invalid_signature")
        }
        let event: StripeEvent
        do { event = try StripeObject.decoder.decode(StripeEvent.self, from: body) } catch {
            throw GatewayError.invalidRequest("The body is not a Stripe event with the fields its type needs.", code: "invalid_event")
        }
        switch try await store.claimStripeEvent(id: event.id, type: event.type, now: now, until: now.addingTimeInterval(claimLease)) {
        case .done: return .duplicate
        case .busy: throw GatewayError.conflict("Another delivery of this event is being handled; Stripe will retry.")
        case .claimed: break
        }
        let outcome = try await handle(event)
        try await store.finishStripeEvent(id: event.id, now: Date())
        if case .ignored(let why) = outcome {
            logger.info("stripe event ignored", metadata: ["event": "\(event.id)", "type": "\(event.type)", "why": "\(why)"])
        }
        return outcome
    }

    func handle(_ event: StripeEvent) async throws -> Outcome {
        let object = event.data.object
        switch event.type {
        case "checkout.session.completed", "checkout.session.async_payment_succeeded":
            return try await checkoutCompleted(object, event: event)
        case "invoice.paid":
            return try await invoicePaid(object, event: event)
        case "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted":
            return try await subscriptionChanged(object, event: event, deleted: event.type == "customer.subscription.deleted")
        case "charge.refunded":
            return try await chargeRefunded(object)
        default:
            return .ignored("Sluice does not handle \(event.type) events")
        }
    }

    // MARK: Payments

    private func checkoutCompleted(_ session: StripeObject, event: StripeEvent) async throws -> Outcome {
        guard let payment = try await store.payment(objectID: session.id) else { return .ignored("a Checkout Session Sluice did not open") }
        let user = payment.payment.userID
        if let customer = session.customer?.id { _ = try await store.linkStripeCustomer(userID: user, customerID: customer) }
        switch payment.payment.purpose {
        case .pack:
            // An asynchronous payment method completes the session unpaid; its money, and the
            // credits, come with `checkout.session.async_payment_succeeded`.
            guard session.paymentStatus == "paid" else { return .ignored("the session is not paid yet") }
            let pack = payment.payment
            let entry = try await store.creditPayment(
                pack, paymentIntent: session.paymentIntent?.id,
                credit: PaymentCredit(
                    amount: pack.credits, kind: .recharge, referenceID: "stripe:\(session.id)",
                    note: "Stripe Checkout \(session.id): \(pack.item) pack"))
            await credits.invalidate(userID: user)
            await log("payment_credited", user: user, detail: "\(entry.map { "\($0.amount)" } ?? "0") credits from Stripe Checkout \(session.id)")
            return .processed
        case .subscription:
            _ = try await store.creditPayment(
                payment.payment, paymentIntent: nil, credit: PaymentCredit(amount: .zero, kind: .grant, referenceID: "stripe:\(session.id)", note: ""))
            guard let subscription = session.subscription?.id else { return .ignored("a subscription session without a subscription") }
            // The invoice may have come first and said more; this adds the subscription only if it is new.
            if try await store.subscription(id: subscription) == nil {
                try await apply(SubscriptionRecord(
                    id: subscription, userID: user, plan: payment.payment.item, status: "active", currentPeriodEnd: nil, cancelAtPeriodEnd: false,
                    version: event.created))
            }
            return .processed
        case .invoice:
            return .ignored("an invoice is not a Checkout Session")
        }
    }

    private func invoicePaid(_ invoice: StripeObject, event: StripeEvent) async throws -> Outcome {
        guard let subscriptionID = invoice.invoiceSubscription else { return .ignored("an invoice of no subscription") }
        guard let line = invoice.invoicePlanLine, let price = line.priceID, let planName = stripe.plan(price: price),
              let plan = grants.plans[planName]
        else { return .ignored("an invoice for a price of no plan") }
        let known = try await store.subscription(id: subscriptionID)
        guard let user = try await user(customer: invoice.customer, known: known) else {
            return .ignored("an invoice of a customer Sluice does not know")
        }
        // Paid means active as of this event, unless a newer event said otherwise.
        try await apply(SubscriptionRecord(
            id: subscriptionID, userID: user, plan: planName, status: "active",
            currentPeriodEnd: line.period.map { Date(timeIntervalSince1970: TimeInterval($0.end)) },
            cancelAtPeriodEnd: known?.cancelAtPeriodEnd ?? false, version: event.created))
        // A trial's invoice is paid at zero: it starts the plan but buys no credits.
        guard let paid = invoice.amountPaid, paid > 0 else { return .processed }
        let periodStart = line.period?.start ?? event.created
        let entry = try await store.creditPayment(
            NewPayment(
                objectID: invoice.id, userID: user, purpose: .invoice, item: planName, credits: plan.monthlyCredits,
                amountCents: paid, currency: invoice.currency ?? stripe.currency),
            paymentIntent: invoice.paymentIntent?.id,
            credit: PaymentCredit(
                amount: plan.monthlyCredits, kind: .grant, referenceID: "stripe:\(subscriptionID):\(planName):\(periodStart)",
                note: "Stripe invoice \(invoice.id): \(plan.displayName) plan, period from \(Date(timeIntervalSince1970: TimeInterval(periodStart)).formatted(.iso8601))"))
        await credits.invalidate(userID: user)
        await log("plan_granted", user: user, detail: "\(entry.map { "\($0.amount)" } ?? "0") credits from Stripe invoice \(invoice.id)")
        return .processed
    }

    private func subscriptionChanged(_ subscription: StripeObject, event: StripeEvent, deleted: Bool) async throws -> Outcome {
        let known = try await store.subscription(id: subscription.id)
        guard let user = try await user(customer: subscription.customer, known: known) else {
            return .ignored("a subscription of a customer Sluice does not know")
        }
        guard let plan = subscription.subscriptionPrice.flatMap(stripe.plan(price:)) ?? known?.plan else {
            return .ignored("a subscription to a price of no plan")
        }
        try await apply(SubscriptionRecord(
            id: subscription.id, userID: user, plan: plan, status: deleted ? "canceled" : (subscription.status ?? "active"),
            currentPeriodEnd: subscription.subscriptionPeriodEnd.map { Date(timeIntervalSince1970: TimeInterval($0)) },
            cancelAtPeriodEnd: subscription.cancelAtPeriodEnd ?? false, version: event.created))
        return .processed
    }

    /// Saves the subscription unless a newer event wrote it, then gives its user the plan it
    /// stands for: its own while it lasts, free when it ended. A subscription that ended takes
    /// away only the plan it gave.
    private func apply(_ subscription: SubscriptionRecord) async throws {
        guard try await store.saveSubscription(subscription) else { return }
        guard let user = try await store.user(id: subscription.userID) else { return }
        let plan = subscription.givesPlan ? subscription.plan : (user.plan == subscription.plan ? "free" : user.plan)
        guard plan != user.plan, let after = try await store.updateUser(id: user.id, UserUpdate(plan: plan)) else { return }
        try await grants.grant(after)
        await log("plan_changed", user: user.id, detail: "\(user.plan) → \(plan) by Stripe subscription \(subscription.id) (\(subscription.status))")
    }

    /// The user an event is about: the customer's, linked before their first checkout, or the
    /// subscription's as stored.
    private func user(customer: StripeID?, known: SubscriptionRecord?) async throws -> Int64? {
        if let customer, let user = try await store.userID(stripeCustomer: customer.id) { return user }
        return known?.userID
    }

    func log(_ action: String, user: Int64, detail: String) async {
        do { try await store.logActivity(ActivityEntry(userID: user, actorID: nil, action: action, detail: detail, ip: nil)) } catch {
            logger.warning("activity log write failed", metadata: ["action": "\(action)", "user_id": "\(user)"])
        }
    }
}
