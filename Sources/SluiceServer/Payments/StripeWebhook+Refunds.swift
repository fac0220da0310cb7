import Foundation
import SluiceCore
import SluiceStore

extension StripeWebhook {
    /// A refund takes back the refunded share of the credits its payment bought, as far as they
    /// are unspent. The credits are first held like a request's, so the gateway cannot spend them
    /// meanwhile, and the hold caps what the store takes; whatever was spent already is recorded as
    /// a shortfall for an admin, and the balance never goes below zero.
    func chargeRefunded(_ charge: StripeObject) async throws -> Outcome {
        var found: PaymentRecord?
        if let intent = charge.paymentIntent?.id { found = try await store.payment(paymentIntent: intent) }
        if found == nil, let invoice = charge.invoice?.id { found = try await store.payment(objectID: invoice) }
        guard let payment = found, payment.paid else { return .ignored("a charge Sluice credited nothing for") }
        guard let amount = charge.amount, amount > 0, let refunded = charge.amountRefunded else {
            return .ignored("a charge without amounts")
        }
        let user = payment.payment.userID
        let dueInAll = Self.share(of: payment.payment.credits, refunded: refunded, of: amount)
        let due = dueInAll - payment.refunded
        guard due > .zero else { return .ignored("this refund's credits were taken back before") }

        // Refunds of one charge are cumulative, so the amount refunded so far names this one.
        let reference = "stripe:refund:\(charge.id):\(refunded)"
        let held = try await hold(upTo: due, userID: user, requestID: reference)
        let outcome: RefundOutcome
        do {
            outcome = try await store.refundPayment(PaymentRefund(
                objectID: payment.payment.objectID, userID: user, chargeID: charge.id, refundedCents: refunded, dueInAll: dueInAll, held: held,
                referenceID: reference, note: "Stripe refund of charge \(charge.id) (\(payment.payment.objectID))"))
        } catch {
            _ = try? await credits.settle(requestID: reference, cost: .zero)
            throw error
        }
        switch outcome {
        case .repeated:
            _ = try await credits.settle(requestID: reference, cost: .zero)
            return .duplicate
        case .applied(let refund, let entry):
            // The hold becomes the charge the store just wrote.
            let settled = try await credits.settle(requestID: reference, cost: refund.taken)
            if let entry, let settled { await credits.persisted(userID: user, charged: settled.charged, balanceAfter: entry.balanceAfter) }
            await credits.invalidate(userID: user)
            await log("payment_refunded", user: user, detail: "\(refund.taken) credits taken back for Stripe charge \(charge.id)")
            if refund.shortfall > .zero {
                logger.warning(
                    "stripe refund exceeds unspent credits",
                    metadata: ["user_id": "\(user)", "charge": "\(charge.id)", "shortfall": "\(refund.shortfall)"])
                await log("refund_shortfall", user: user, detail: "\(refund.shortfall) credits of Stripe charge \(charge.id) were spent already")
            }
            return .processed
        }
    }

    /// Holds as much of `amount` as the user has available, or nothing.
    private func hold(upTo amount: Credits, userID: Int64, requestID: String) async throws -> Credits {
        var wanted = amount
        for _ in 0..<5 where wanted > .zero {
            switch try await credits.hold(userID: userID, amount: wanted, requestID: requestID) {
            case .held: return wanted
            case .insufficient(let available): wanted = min(wanted, available)
            }
        }
        return .zero
    }

    /// `credits × refunded / amount`, rounded down, in full width so no product overflows; a
    /// whole refund is all the credits exactly.
    static func share(of credits: Credits, refunded: Int64, of amount: Int64) -> Credits {
        guard amount > 0, credits > .zero else { return .zero }
        let part = min(max(refunded, 0), amount)
        let product = credits.micros.multipliedFullWidth(by: part)
        return Credits(micros: amount.dividingFullWidth(product).quotient)
    }
}
