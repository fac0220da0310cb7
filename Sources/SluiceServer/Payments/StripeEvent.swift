import Foundation

/// A webhook event, with the fields of its object that Sluice reads. Stripe's objects differ by
/// API version; where a field moved (an invoice's subscription, a subscription's period end), both
/// places are read.
struct StripeEvent: Decodable, Sendable {
    var id: String
    var type: String
    /// Unix seconds. Orders the events about one subscription, which Stripe may deliver out of order.
    var created: Int64
    var data: Payload

    struct Payload: Decodable, Sendable {
        var object: StripeObject
    }
}

/// One Stripe object: a Checkout Session, an invoice, a subscription or a charge.
struct StripeObject: Decodable, Sendable {
    var id: String
    var mode: String?
    var paymentStatus: String?
    var paymentIntent: StripeID?
    var customer: StripeID?
    var subscription: StripeID?
    var invoice: StripeID?
    var currency: String?
    var amountTotal: Int64?
    var amountPaid: Int64?
    var amount: Int64?
    var amountRefunded: Int64?
    var status: String?
    var cancelAtPeriodEnd: Bool?
    var currentPeriodEnd: Int64?
    var items: List<SubscriptionItem>?
    var lines: List<InvoiceLine>?
    var parent: InvoiceParent?

    struct List<Element: Decodable & Sendable>: Decodable, Sendable {
        var data: [Element]
    }

    struct Price: Decodable, Sendable {
        var id: String
    }

    struct SubscriptionItem: Decodable, Sendable {
        var price: Price?
        var currentPeriodEnd: Int64?
    }

    struct InvoiceLine: Decodable, Sendable {
        struct Period: Decodable, Sendable { var start: Int64; var end: Int64 }
        struct Pricing: Decodable, Sendable {
            struct Details: Decodable, Sendable { var price: String? }
            var priceDetails: Details?
        }
        var period: Period?
        var price: Price?
        var pricing: Pricing?

        var priceID: String? { price?.id ?? pricing?.priceDetails?.price }
    }

    struct InvoiceParent: Decodable, Sendable {
        struct Details: Decodable, Sendable { var subscription: StripeID? }
        var subscriptionDetails: Details?
    }

    /// A subscription's price: its first item's.
    var subscriptionPrice: String? { items?.data.first?.price?.id }
    var subscriptionPeriodEnd: Int64? { currentPeriodEnd ?? items?.data.first?.currentPeriodEnd }
    /// An invoice's subscription, where the API version keeps it.
    var invoiceSubscription: String? { subscription?.id ?? parent?.subscriptionDetails?.subscription?.id }
    /// The subscription line of an invoice: the one with a price.
    var invoicePlanLine: InvoiceLine? { lines?.data.first { $0.priceID != nil } }

    static let decoder: JSONDecoder = {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }()
}

/// An object reference: Stripe sends an id, or the object itself when it was expanded.
struct StripeID: Decodable, Sendable {
    var id: String

    init(from decoder: any Decoder) throws {
        if let text = try? decoder.singleValueContainer().decode(String.self) {
            id = text
            return
        }
        struct Expanded: Decodable { var id: String }
        id = try Expanded(from: decoder).id
    }
}
