import Foundation
import PostgresNIO
import SluiceCore

extension PostgresStore {
    public func stripeCustomer(userID: Int64) async throws -> String? {
        try await first("SELECT customer_id FROM stripe_customers WHERE user_id = \(userID)")?.text("customer_id")
    }

    public func linkStripeCustomer(userID: Int64, customerID: String) async throws -> String {
        try await execute(
            """
            INSERT INTO stripe_customers (user_id, customer_id, created_at) VALUES (\(userID), \(customerID), \(Date().unixMillis))
            ON CONFLICT (user_id) DO NOTHING
            """)
        return try await stripeCustomer(userID: userID) ?? customerID
    }

    public func userID(stripeCustomer customerID: String) async throws -> Int64? {
        try await first("SELECT user_id FROM stripe_customers WHERE customer_id = \(customerID)")?.int("user_id")
    }

    public func openPayment(_ payment: NewPayment) async throws {
        try await leased { connection in try await self.insertPayment(connection, payment, status: "open") }
    }

    public func payment(objectID: String) async throws -> PaymentRecord? {
        try await first(PostgresQuery(unsafeSQL: PaymentQueries.selectPayment + " WHERE p.object_id = $1", binds: Self.binds(objectID)))
            .map(PaymentRecord.init(row:))
    }

    public func payment(paymentIntent: String) async throws -> PaymentRecord? {
        try await first(PostgresQuery(unsafeSQL: PaymentQueries.selectPayment + " WHERE p.payment_intent = $1", binds: Self.binds(paymentIntent)))
            .map(PaymentRecord.init(row:))
    }

    public func creditPayment(_ payment: NewPayment, paymentIntent: String?, credit: PaymentCredit) async throws -> LedgerEntry? {
        do {
            return try await transaction { connection in
                try await self.insertPayment(connection, payment, status: "paid")
                // The update locks the payment's row: deliveries of one payment's events take turns here.
                try await connection.execute(
                    """
                    UPDATE stripe_payments SET status = 'paid', payment_intent = coalesce(\(paymentIntent)::text, payment_intent),
                        paid_at = coalesce(paid_at, \(Date().unixMillis))
                    WHERE object_id = \(payment.objectID)
                    """, logger: self.logger)
                if let existing = try await self.ledgerEntry(connection, referenceID: credit.referenceID) { return existing }
                guard credit.amount > .zero else { return nil }
                return try await self.appendCredit(
                    connection, userID: payment.userID, amount: credit.amount, kind: credit.kind, referenceID: credit.referenceID, note: credit.note)
            }
        } catch where isUniqueViolation(error) {
            // Another instance credited this reference between the read and the write: its entry stands.
            guard let existing = try await ledgerEntry(client, referenceID: credit.referenceID) else { throw error }
            return existing
        }
    }

    public func refundPayment(_ refund: PaymentRefund) async throws -> RefundOutcome {
        try await transaction { connection in
            // Refunds of one payment take turns on its row, so each sees what the others took back.
            _ = try await connection.first("SELECT object_id FROM stripe_payments WHERE object_id = \(refund.objectID) FOR UPDATE", logger: self.logger)
            if let done = try await connection.first("SELECT * FROM stripe_refunds WHERE reference_id = \(refund.referenceID)", logger: self.logger) {
                return .repeated(try RefundRecord(row: done))
            }
            let handled = try await connection.first(
                "SELECT coalesce(sum(taken_micros + shortfall_micros), 0)::bigint AS handled FROM stripe_refunds WHERE object_id = \(refund.objectID)",
                logger: self.logger)?.int("handled") ?? 0
            let balance = try await connection.first(
                "SELECT balance_micros FROM users WHERE id = \(refund.userID) FOR UPDATE", logger: self.logger)?.int("balance_micros") ?? 0
            let split = PaymentQueries.split(
                dueInAll: refund.dueInAll, handled: Credits(micros: handled), held: refund.held, balance: Credits(micros: balance))
            let now = Date(unixMillis: Date().unixMillis)
            try await connection.execute(
                """
                INSERT INTO stripe_refunds (reference_id, object_id, user_id, charge_id, refunded_cents, taken_micros, shortfall_micros, created_at)
                VALUES (\(refund.referenceID), \(refund.objectID), \(refund.userID), \(refund.chargeID), \(refund.refundedCents),
                    \(split.taken.micros), \(split.shortfall.micros), \(now.unixMillis))
                """, logger: self.logger)
            let entry = split.taken > .zero
                ? try await self.appendCredit(
                    connection, userID: refund.userID, amount: .zero - split.taken, kind: .refund, referenceID: refund.referenceID, note: refund.note)
                : nil
            return .applied(RefundRecord(refund, split: split, at: now), entry: entry)
        }
    }

    public func refundShortfalls(page: PageRequest) async throws -> [RefundRecord] {
        try await all(
            """
            SELECT * FROM stripe_refunds WHERE shortfall_micros > 0 ORDER BY created_at DESC, reference_id
            LIMIT \(page.limit) OFFSET \(page.offset)
            """
        ).map(RefundRecord.init(row:))
    }

    public func saveSubscription(_ subscription: SubscriptionRecord) async throws -> Bool {
        try await first(
            """
            INSERT INTO stripe_subscriptions (subscription_id, user_id, plan, status, current_period_end, cancel_at_period_end, version, updated_at)
            VALUES (\(subscription.id), \(subscription.userID), \(subscription.plan), \(subscription.status),
                \(subscription.currentPeriodEnd?.unixMillis)::bigint, \(subscription.cancelAtPeriodEnd), \(subscription.version), \(Date().unixMillis))
            ON CONFLICT (subscription_id) DO UPDATE SET plan = excluded.plan, status = excluded.status,
                current_period_end = excluded.current_period_end, cancel_at_period_end = excluded.cancel_at_period_end,
                version = excluded.version, updated_at = excluded.updated_at
            WHERE excluded.version >= stripe_subscriptions.version
            RETURNING subscription_id
            """) != nil
    }

    public func subscription(id: String) async throws -> SubscriptionRecord? {
        try await first("SELECT * FROM stripe_subscriptions WHERE subscription_id = \(id)").map(SubscriptionRecord.init(row:))
    }

    public func subscription(userID: Int64) async throws -> SubscriptionRecord? {
        try await first("SELECT * FROM stripe_subscriptions WHERE user_id = \(userID) ORDER BY updated_at DESC, version DESC LIMIT 1")
            .map(SubscriptionRecord.init(row:))
    }

    public func claimStripeEvent(id: String, type: String, now: Date, until: Date) async throws -> EventClaim {
        let claimed = try await first(
            """
            INSERT INTO stripe_events (event_id, type, claimed_until) VALUES (\(id), \(type), \(until.unixMillis))
            ON CONFLICT (event_id) DO UPDATE SET claimed_until = excluded.claimed_until
            WHERE stripe_events.processed_at IS NULL AND stripe_events.claimed_until <= \(now.unixMillis)
            RETURNING event_id
            """)
        if claimed != nil { return .claimed }
        let processed = try await first("SELECT processed_at FROM stripe_events WHERE event_id = \(id)")?.int("processed_at")
        return processed == nil ? .busy : .done
    }

    public func finishStripeEvent(id: String, now: Date) async throws {
        try await execute("UPDATE stripe_events SET processed_at = \(now.unixMillis) WHERE event_id = \(id)")
    }

    private func insertPayment(_ connection: PostgresConnection, _ payment: NewPayment, status: String) async throws {
        try await connection.execute(
            """
            INSERT INTO stripe_payments (object_id, user_id, purpose, item, credits_micros, amount_cents, currency, status, created_at)
            VALUES (\(payment.objectID), \(payment.userID), \(payment.purpose.rawValue), \(payment.item), \(payment.credits.micros),
                \(payment.amountCents), \(payment.currency), \(status), \(Date().unixMillis))
            ON CONFLICT (object_id) DO NOTHING
            """, logger: logger)
    }

    private static func binds(_ value: String) -> PostgresBindings {
        var binds = PostgresBindings()
        binds.append(value, context: .default)
        return binds
    }
}
