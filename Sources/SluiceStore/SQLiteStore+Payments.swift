import Foundation
import GRDB
import SluiceCore

extension SQLiteStore {
    public func stripeCustomer(userID: Int64) async throws -> String? {
        try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT customer_id FROM stripe_customers WHERE user_id = ?", arguments: [userID])
        }
    }

    public func linkStripeCustomer(userID: Int64, customerID: String) async throws -> String {
        try await pool.write { db in
            try db.execute(
                sql: "INSERT INTO stripe_customers (user_id, customer_id, created_at) VALUES (?, ?, ?) ON CONFLICT (user_id) DO NOTHING",
                arguments: [userID, customerID, Date().unixMillis])
            return try String.fetchOne(db, sql: "SELECT customer_id FROM stripe_customers WHERE user_id = ?", arguments: [userID]) ?? customerID
        }
    }

    public func userID(stripeCustomer customerID: String) async throws -> Int64? {
        try await pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT user_id FROM stripe_customers WHERE customer_id = ?", arguments: [customerID])
        }
    }

    public func openPayment(_ payment: NewPayment) async throws {
        try await pool.write { db in try Self.insertPayment(db, payment, status: "open") }
    }

    public func payment(objectID: String) async throws -> PaymentRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: PaymentQueries.selectPayment + " WHERE p.object_id = ?", arguments: [objectID]).map(PaymentRecord.init(row:))
        }
    }

    public func payment(paymentIntent: String) async throws -> PaymentRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: PaymentQueries.selectPayment + " WHERE p.payment_intent = ?", arguments: [paymentIntent])
                .map(PaymentRecord.init(row:))
        }
    }

    public func creditPayment(_ payment: NewPayment, paymentIntent: String?, credit: PaymentCredit) async throws -> LedgerEntry? {
        try await pool.write { db in
            try Self.insertPayment(db, payment, status: "paid")
            try db.execute(
                sql: """
                    UPDATE stripe_payments SET status = 'paid', payment_intent = coalesce(?, payment_intent), paid_at = coalesce(paid_at, ?)
                    WHERE object_id = ?
                    """,
                arguments: [paymentIntent, Date().unixMillis, payment.objectID])
            if let existing = try Self.ledgerEntry(db, referenceID: credit.referenceID) { return existing }
            guard credit.amount > .zero else { return nil }
            return try self.appendCredit(
                db, userID: payment.userID, amount: credit.amount, kind: credit.kind, referenceID: credit.referenceID, note: credit.note)
        }
    }

    public func refundPayment(_ refund: PaymentRefund) async throws -> RefundOutcome {
        try await pool.write { db in
            if let done = try Row.fetchOne(db, sql: "SELECT * FROM stripe_refunds WHERE reference_id = ?", arguments: [refund.referenceID]) {
                return .repeated(try RefundRecord(row: done))
            }
            let handled = try Int64.fetchOne(
                db, sql: "SELECT coalesce(sum(taken_micros + shortfall_micros), 0) FROM stripe_refunds WHERE object_id = ?",
                arguments: [refund.objectID]) ?? 0
            let balance = try Int64.fetchOne(db, sql: "SELECT balance_micros FROM users WHERE id = ?", arguments: [refund.userID]) ?? 0
            let split = PaymentQueries.split(
                dueInAll: refund.dueInAll, handled: Credits(micros: handled), held: refund.held, balance: Credits(micros: balance))
            let now = Date(unixMillis: Date().unixMillis)
            try db.execute(
                sql: """
                    INSERT INTO stripe_refunds (reference_id, object_id, user_id, charge_id, refunded_cents, taken_micros, shortfall_micros, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    refund.referenceID, refund.objectID, refund.userID, refund.chargeID, refund.refundedCents, split.taken.micros,
                    split.shortfall.micros, now.unixMillis,
                ])
            let entry = split.taken > .zero
                ? try self.appendCredit(db, userID: refund.userID, amount: .zero - split.taken, kind: .refund, referenceID: refund.referenceID, note: refund.note)
                : nil
            return .applied(RefundRecord(refund, split: split, at: now), entry: entry)
        }
    }

    public func refundShortfalls(page: PageRequest) async throws -> [RefundRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM stripe_refunds WHERE shortfall_micros > 0 ORDER BY created_at DESC, reference_id LIMIT ? OFFSET ?",
                arguments: [page.limit, page.offset]
            ).map(RefundRecord.init(row:))
        }
    }

    public func saveSubscription(_ subscription: SubscriptionRecord) async throws -> Bool {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO stripe_subscriptions (subscription_id, user_id, plan, status, current_period_end, cancel_at_period_end, version, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (subscription_id) DO UPDATE SET plan = excluded.plan, status = excluded.status,
                        current_period_end = excluded.current_period_end, cancel_at_period_end = excluded.cancel_at_period_end,
                        version = excluded.version, updated_at = excluded.updated_at
                    WHERE excluded.version >= stripe_subscriptions.version
                    """,
                arguments: [
                    subscription.id, subscription.userID, subscription.plan, subscription.status, subscription.currentPeriodEnd?.unixMillis,
                    subscription.cancelAtPeriodEnd, subscription.version, Date().unixMillis,
                ])
            return db.changesCount == 1
        }
    }

    public func subscription(id: String) async throws -> SubscriptionRecord? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM stripe_subscriptions WHERE subscription_id = ?", arguments: [id]).map(SubscriptionRecord.init(row:))
        }
    }

    public func subscription(userID: Int64) async throws -> SubscriptionRecord? {
        try await pool.read { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM stripe_subscriptions WHERE user_id = ? ORDER BY updated_at DESC, version DESC LIMIT 1",
                arguments: [userID]
            ).map(SubscriptionRecord.init(row:))
        }
    }

    public func claimStripeEvent(id: String, type: String, now: Date, until: Date) async throws -> EventClaim {
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO stripe_events (event_id, type, claimed_until) VALUES (?, ?, ?)
                    ON CONFLICT (event_id) DO UPDATE SET claimed_until = excluded.claimed_until
                    WHERE stripe_events.processed_at IS NULL AND stripe_events.claimed_until <= ?
                    """,
                arguments: [id, type, until.unixMillis, now.unixMillis])
            if db.changesCount == 1 { return .claimed }
            let processed = try Int64?.fetchOne(db, sql: "SELECT processed_at FROM stripe_events WHERE event_id = ?", arguments: [id]) ?? nil
            return processed == nil ? .busy : .done
        }
    }

    public func finishStripeEvent(id: String, now: Date) async throws {
        try await pool.write { db in
            try db.execute(sql: "UPDATE stripe_events SET processed_at = ? WHERE event_id = ?", arguments: [now.unixMillis, id])
        }
    }

    private static func insertPayment(_ db: Database, _ payment: NewPayment, status: String) throws {
        try db.execute(
            sql: """
                INSERT INTO stripe_payments (object_id, user_id, purpose, item, credits_micros, amount_cents, currency, status, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (object_id) DO NOTHING
                """,
            arguments: [
                payment.objectID, payment.userID, payment.purpose.rawValue, payment.item, payment.credits.micros, payment.amountCents,
                payment.currency, status, Date().unixMillis,
            ])
    }
}
