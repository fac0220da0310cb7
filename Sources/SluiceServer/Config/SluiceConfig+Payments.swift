import Foundation
import SluiceCore

extension SluiceConfig {
    public struct Payments: Sendable {
        public var stripe = Stripe()
    }

    /// Stripe Checkout for credit packs and paid plans. Off while `secretKey` is empty.
    public struct Stripe: Sendable {
        public var secretKey = ""
        public var secretKeyFile = ""
        /// Signing secrets of the webhook endpoint; more than one while a secret is rolled.
        public var webhookSecrets: [String] = []
        public var webhookSecretFile = ""
        /// Where the Stripe API answers: Stripe's own, or a test's fake on loopback.
        public var apiBase = "https://api.stripe.com"
        /// How old a webhook's signed timestamp may be.
        public var toleranceSeconds = 300
        public var currency = "usd"
        /// Where Checkout sends the browser back. Empty: the gateway's own `/` on `server.host`.
        public var successURL = ""
        public var cancelURL = ""
        public var packs: [String: Pack] = [:]
        /// The Stripe price id of each paid plan, by plan name. A plan with a price is granted its
        /// monthly credits by its paid invoices, not by the calendar.
        public var planPrices: [String: String] = [:]

        public var enabled: Bool { !secretKey.isEmpty }

        /// The plan whose Stripe price this is.
        public func plan(price: String) -> String? { planPrices.first { $0.value == price }?.key }
    }

    /// Credits sold once, for a price.
    public struct Pack: Sendable, Equatable {
        public var name: String
        public var credits: Credits
        public var priceCents: Int64

        public init(name: String, credits: Credits, priceCents: Int64) {
            self.name = name
            self.credits = credits
            self.priceCents = priceCents
        }
    }
}
