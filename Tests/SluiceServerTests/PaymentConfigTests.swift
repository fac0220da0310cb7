import Foundation
import SluiceCore
@testable import SluiceServer
import Testing

/// `payments.stripe` as the loader reads it, and the money arithmetic of refunds.
@Suite struct PaymentConfigTests {
    @Test func packsComeFromYAMLOrTheEnvironmentAndBadOnesAreRefused() throws {
        var config = SluiceConfig()
        let yaml = """
            payments:
              stripe:
                secret_key: sk_test_1
                webhook_secret: [whsec_a, whsec_b]
                plan_prices:
                  pro: price_pro
                packs:
                  starter: {credits: 10, price: "5"}
                  big: {credits: "120.5", price: "49.99"}
            """
        try ConfigLoader.apply(yaml: yaml, source: "x.yaml", to: &config)
        let stripe = config.payments.stripe
        #expect(stripe.enabled && stripe.webhookSecrets == ["whsec_a", "whsec_b"])
        #expect(stripe.packs["starter"] == SluiceConfig.Pack(name: "starter", credits: Credits(whole: 10), priceCents: 500))
        #expect(stripe.packs["big"] == SluiceConfig.Pack(name: "big", credits: Credits(micros: 120_500_000), priceCents: 4999))
        #expect(stripe.plan(price: "price_pro") == "pro")
        #expect(stripe.plan(price: "price_other") == nil)

        try ConfigLoader.apply(environment: ["SLUICE_PAYMENTS_STRIPE_PACKS": "tiny=1@0.5,huge=1000@400"], to: &config)
        #expect(config.payments.stripe.packs.keys.sorted() == ["huge", "tiny"])
        #expect(config.payments.stripe.packs["tiny"]?.priceCents == 50)

        for bad in [
            "payments:\n  stripe:\n    packs:\n      a: {credits: 0, price: 1}\n",
            "payments:\n  stripe:\n    packs:\n      a: {credits: 1, price: \"1.005\"}\n",
            "payments:\n  stripe:\n    packs:\n      a: {credits: 1, price: \"-1\"}\n",
            "payments:\n  stripe:\n    packs:\n      a: {credits: 1}\n",
            "payments:\n  stripe:\n    packs:\n      \"a b\": {credits: 1, price: 1}\n",
            "payments:\n  stripe:\n    currency: USD\n",
            "payments:\n  stripe:\n    api_base: ftp://x\n",
            "payments:\n  stripe:\n    plan_prices:\n      free: price_x\n",
        ] {
            var fresh = SluiceConfig()
            #expect(throws: ConfigLoader.Error.self, "\(bad)") { try ConfigLoader.apply(yaml: bad, source: "x.yaml", to: &fresh) }
        }
        #expect(throws: ConfigLoader.Error.self) { try ConfigLoader.apply(environment: ["SLUICE_PAYMENTS_STRIPE_PACKS": "a=1"], to: &config) }
    }

    @Test func secretsComeFromFilesAndAKeyWithoutASigningSecretIsRefused() throws {
        let directory = NSTemporaryDirectory() + "sluice-stripe-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try "sk_test_file\n".write(toFile: directory + "/key", atomically: true, encoding: .utf8)
        try "whsec_1\nwhsec_2\n".write(toFile: directory + "/hook", atomically: true, encoding: .utf8)
        let config = try ConfigLoader.load(file: nil, environment: [
            "SLUICE_PAYMENTS_STRIPE_SECRET_KEY_FILE": directory + "/key", "SLUICE_PAYMENTS_STRIPE_WEBHOOK_SECRET_FILE": directory + "/hook",
        ])
        #expect(config.payments.stripe.secretKey == "sk_test_file")
        #expect(config.payments.stripe.webhookSecrets == ["whsec_1", "whsec_2"])
        #expect(throws: ConfigLoader.Error.self) { try ConfigLoader.load(file: nil, environment: ["SLUICE_PAYMENTS_STRIPE_SECRET_KEY": "sk_x"]) }
        #expect(try ConfigLoader.load(file: nil, environment: [:]).payments.stripe.enabled == false)
    }

    @Test func aRefundsShareIsExactAndNeverOverflows() {
        #expect(StripeWebhook.share(of: Credits(whole: 10), refunded: 250, of: 500) == Credits(whole: 5))
        #expect(StripeWebhook.share(of: Credits(whole: 10), refunded: 500, of: 500) == Credits(whole: 10))
        #expect(StripeWebhook.share(of: Credits(whole: 10), refunded: 900, of: 500) == Credits(whole: 10), "capped at the whole")
        #expect(StripeWebhook.share(of: Credits(micros: 10), refunded: 1, of: 3) == Credits(micros: 3), "rounded down")
        // 10^12 credits (10^18 micro-credits) times a large charge would overflow 64 bits.
        let most = Credits(whole: 1_000_000_000_000)
        #expect(StripeWebhook.share(of: most, refunded: 99_999_999, of: 99_999_999) == most)
        #expect(StripeWebhook.share(of: most, refunded: 50_000_000, of: 100_000_000) == Credits(whole: 500_000_000_000))
        #expect(StripeWebhook.share(of: Credits(whole: 1), refunded: 1, of: 0) == .zero)
    }

    @Test func theSignatureCheckFollowsStripesRules() throws {
        let check = StripeSignature(secrets: ["whsec_x"], tolerance: 300)
        let text = #"{"id":"evt_1"}"#
        let body = Data(text.utf8)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let good = StripeHarness.signature(text, secret: "whsec_x", at: 1_800_000_000)
        try check.verify(header: good, body: body, now: now)
        try check.verify(header: good, body: body, now: now.addingTimeInterval(300))
        #expect(throws: StripeSignature.Failure.stale) { try check.verify(header: good, body: body, now: now.addingTimeInterval(301)) }
        #expect(throws: StripeSignature.Failure.mismatch) { try check.verify(header: good, body: Data("{}".utf8), now: now) }
        #expect(throws: StripeSignature.Failure.malformed) { try check.verify(header: nil, body: body, now: now) }
        #expect(throws: StripeSignature.Failure.malformed) { try check.verify(header: "t=1800000000", body: body, now: now) }
        // Spaces after commas, and other schemes beside v1, are tolerated.
        try check.verify(header: good.replacingOccurrences(of: ",", with: ", v0=abc, "), body: body, now: now)
    }
}
