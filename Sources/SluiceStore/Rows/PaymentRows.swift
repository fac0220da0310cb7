import Foundation
import SluiceCore

/// Payment records from `stripe_*` rows, the same way for both stores.
extension PaymentRecord {
    /// The payment columns, and `refunded_micros`, the sum of its refunds (see `PaymentQueries`).
    init(row: some StoreRow) throws {
        let purpose = try row.text(required: "purpose")
        guard let kind = PaymentPurpose(rawValue: purpose) else { throw StoreDecodingError(column: "purpose") }
        self.init(
            payment: NewPayment(
                objectID: try row.text(required: "object_id"), userID: try row.int(required: "user_id"), purpose: kind,
                item: try row.text(required: "item"), credits: Credits(micros: try row.int(required: "credits_micros")),
                amountCents: try row.int(required: "amount_cents"), currency: try row.text(required: "currency")),
            paymentIntent: try row.text("payment_intent"), paid: try row.text(required: "status") == "paid",
            refunded: Credits(micros: try row.int(required: "refunded_micros")))
    }
}

extension RefundRecord {
    init(row: some StoreRow) throws {
        self.init(
            referenceID: try row.text(required: "reference_id"), objectID: try row.text(required: "object_id"),
            userID: try row.int(required: "user_id"), chargeID: try row.text(required: "charge_id"),
            refundedCents: try row.int(required: "refunded_cents"), taken: Credits(micros: try row.int(required: "taken_micros")),
            shortfall: Credits(micros: try row.int(required: "shortfall_micros")), createdAt: try row.date(required: "created_at"))
    }
}

extension RefundRecord {
    /// What a store just wrote for `refund`.
    init(_ refund: PaymentRefund, split: (taken: Credits, shortfall: Credits), at now: Date) {
        self.init(
            referenceID: refund.referenceID, objectID: refund.objectID, userID: refund.userID, chargeID: refund.chargeID,
            refundedCents: refund.refundedCents, taken: split.taken, shortfall: split.shortfall, createdAt: now)
    }
}

extension SubscriptionRecord {
    init(row: some StoreRow) throws {
        self.init(
            id: try row.text(required: "subscription_id"), userID: try row.int(required: "user_id"), plan: try row.text(required: "plan"),
            status: try row.text(required: "status"), currentPeriodEnd: try row.date("current_period_end"),
            cancelAtPeriodEnd: try row.bool(required: "cancel_at_period_end"), version: try row.int(required: "version"))
    }
}

/// SQL both stores share for payments.
enum PaymentQueries {
    /// A payment with the sum of what its refunds took back or could not (cast: PostgreSQL sums
    /// BIGINTs as NUMERIC).
    static let selectPayment = """
        SELECT p.*,
            CAST((SELECT coalesce(sum(r.taken_micros + r.shortfall_micros), 0) FROM stripe_refunds r WHERE r.object_id = p.object_id) AS BIGINT)
            AS refunded_micros
        FROM stripe_payments p
        """

    /// What this refund takes back and what it leaves as a shortfall: what is due beyond what
    /// earlier refunds handled, taken from the hold and the balance as far as they reach.
    static func split(dueInAll: Credits, handled: Credits, held: Credits, balance: Credits) -> (taken: Credits, shortfall: Credits) {
        let due = max(dueInAll - handled, .zero)
        let taken = min(due, held, max(balance, .zero))
        return (taken, due - taken)
    }
}
