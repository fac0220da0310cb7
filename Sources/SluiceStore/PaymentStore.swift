import Foundation
import SluiceCore

/// What Sluice keeps of Stripe: customers, the payments it opened or was told of, refunds, the
/// subscriptions behind paid plans, and the webhook events it has handled.
///
/// Every write that moves credits is idempotent by its ledger reference, so an event handled
/// twice (a retry after a lost answer, two instances, a crash between effect and `finish`)
/// credits once.
public protocol PaymentStore: Sendable {
    func stripeCustomer(userID: Int64) async throws -> String?
    /// Links a Stripe customer to a user. The first link stands: returns the customer linked now.
    func linkStripeCustomer(userID: Int64, customerID: String) async throws -> String
    func userID(stripeCustomer customerID: String) async throws -> Int64?

    /// Records a Checkout Session as it is opened (status `open`). A repeat changes nothing.
    func openPayment(_ payment: NewPayment) async throws
    func payment(objectID: String) async throws -> PaymentRecord?
    func payment(paymentIntent: String) async throws -> PaymentRecord?
    /// Marks the payment paid (recording it first if it is new, as an invoice is) and, in the same
    /// transaction, credits the user once by `credit.referenceID`. A repeat returns the first entry.
    func creditPayment(_ payment: NewPayment, paymentIntent: String?, credit: PaymentCredit) async throws -> LedgerEntry?
    /// Takes back a refund's share of a payment's credits, at most `refund.held` and never more
    /// than the balance; the rest of what is due is recorded as a shortfall. Once per reference.
    func refundPayment(_ refund: PaymentRefund) async throws -> RefundOutcome
    /// Refunds that could not take back all they were due, newest first.
    func refundShortfalls(page: PageRequest) async throws -> [RefundRecord]

    /// Writes the subscription unless the stored one came from a newer event. Returns whether it
    /// was written.
    func saveSubscription(_ subscription: SubscriptionRecord) async throws -> Bool
    func subscription(id: String) async throws -> SubscriptionRecord?
    /// The user's most recently changed subscription.
    func subscription(userID: Int64) async throws -> SubscriptionRecord?

    /// Claims a webhook event for handling until `until`. An event already handled is `.done`; one
    /// another delivery holds a live claim on is `.busy`.
    func claimStripeEvent(id: String, type: String, now: Date, until: Date) async throws -> EventClaim
    func finishStripeEvent(id: String, now: Date) async throws
}

public enum PaymentPurpose: String, Sendable {
    /// A credit pack bought once.
    case pack
    /// The Checkout Session that starts a subscription; its invoices carry the credits.
    case subscription
    /// A paid subscription invoice: the plan's grant for its period.
    case invoice
}

public struct NewPayment: Sendable, Equatable {
    public var objectID: String
    public var userID: Int64
    public var purpose: PaymentPurpose
    /// The pack's or the plan's name.
    public var item: String
    public var credits: Credits
    public var amountCents: Int64
    public var currency: String

    public init(objectID: String, userID: Int64, purpose: PaymentPurpose, item: String, credits: Credits, amountCents: Int64, currency: String) {
        self.objectID = objectID
        self.userID = userID
        self.purpose = purpose
        self.item = item
        self.credits = credits
        self.amountCents = amountCents
        self.currency = currency
    }
}

public struct PaymentRecord: Sendable, Equatable {
    public var payment: NewPayment
    public var paymentIntent: String?
    public var paid: Bool
    /// What refunds took back and could not take back so far.
    public var refunded: Credits
}

/// The ledger entry a payment adds.
public struct PaymentCredit: Sendable, Equatable {
    public var amount: Credits
    public var kind: LedgerKind
    public var referenceID: String
    public var note: String

    public init(amount: Credits, kind: LedgerKind, referenceID: String, note: String) {
        self.amount = amount
        self.kind = kind
        self.referenceID = referenceID
        self.note = note
    }
}

public struct PaymentRefund: Sendable, Equatable {
    public var objectID: String
    public var userID: Int64
    public var chargeID: String
    /// The charge's refunded amount so far; refunds of one charge are cumulative.
    public var refundedCents: Int64
    /// The payment's credits that the refunds so far are due: this refund takes back what earlier
    /// ones did not.
    public var dueInAll: Credits
    /// Credits held for this refund in the credit holds: the most it may take back.
    public var held: Credits
    public var referenceID: String
    public var note: String

    public init(
        objectID: String, userID: Int64, chargeID: String, refundedCents: Int64, dueInAll: Credits, held: Credits, referenceID: String,
        note: String
    ) {
        self.objectID = objectID
        self.userID = userID
        self.chargeID = chargeID
        self.refundedCents = refundedCents
        self.dueInAll = dueInAll
        self.held = held
        self.referenceID = referenceID
        self.note = note
    }
}

public struct RefundRecord: Sendable, Equatable {
    public var referenceID: String
    public var objectID: String
    public var userID: Int64
    public var chargeID: String
    public var refundedCents: Int64
    public var taken: Credits
    public var shortfall: Credits
    public var createdAt: Date
}

public enum RefundOutcome: Sendable, Equatable {
    /// Written now; `entry` is the refund's ledger entry when it took anything back.
    case applied(RefundRecord, entry: LedgerEntry?)
    /// Written before, by an earlier delivery.
    case repeated(RefundRecord)
}

public struct SubscriptionRecord: Sendable, Equatable {
    public var id: String
    public var userID: Int64
    public var plan: String
    /// Stripe's status: `active`, `trialing`, `past_due`, `canceled`, `unpaid`, …
    public var status: String
    public var currentPeriodEnd: Date?
    public var cancelAtPeriodEnd: Bool
    /// The `created` time (Unix seconds) of the event this state came from.
    public var version: Int64

    public init(id: String, userID: Int64, plan: String, status: String, currentPeriodEnd: Date?, cancelAtPeriodEnd: Bool, version: Int64) {
        self.id = id
        self.userID = userID
        self.plan = plan
        self.status = status
        self.currentPeriodEnd = currentPeriodEnd
        self.cancelAtPeriodEnd = cancelAtPeriodEnd
        self.version = version
    }

    /// Whether the subscription still gives its plan: Stripe keeps a past-due subscription's
    /// service while it retries the payment.
    public var givesPlan: Bool { ["active", "trialing", "past_due"].contains(status) }
}

public enum EventClaim: Sendable, Equatable {
    case claimed
    case done
    case busy
}
