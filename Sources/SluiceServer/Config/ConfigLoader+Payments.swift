import Foundation
import SluiceCore

extension ConfigLoader {
    static let paymentKeys: [Key] = [
        string("payments.stripe.secret_key") { $0.payments.stripe.secretKey = $1 },
        string("payments.stripe.secret_key_file") { $0.payments.stripe.secretKeyFile = $1 },
        string("payments.stripe.webhook_secret") { config, value in
            config.payments.stripe.webhookSecrets = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        },
        string("payments.stripe.webhook_secret_file") { $0.payments.stripe.webhookSecretFile = $1 },
        Key(path: "payments.stripe.api_base") { config, value, source in
            guard let url = URL(string: value), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
                throw Error(description: "\(source): payments.stripe.api_base must be an http or https URL, got \(value)")
            }
            config.payments.stripe.apiBase = value.hasSuffix("/") ? String(value.dropLast()) : value
        },
        int("payments.stripe.tolerance_seconds", min: 1, max: 86_400) { $0.payments.stripe.toleranceSeconds = $1 },
        Key(path: "payments.stripe.currency") { config, value, source in
            guard value.count == 3, value.allSatisfy({ $0.isASCII && $0.isLowercase }) else {
                throw Error(description: "\(source): payments.stripe.currency must be a lowercase ISO 4217 code such as usd, got \(value)")
            }
            config.payments.stripe.currency = value
        },
        string("payments.stripe.success_url") { $0.payments.stripe.successURL = $1 },
        string("payments.stripe.cancel_url") { $0.payments.stripe.cancelURL = $1 },
        Key(path: "payments.stripe.packs") { config, value, source in
            config.payments.stripe.packs = try PacksParser.parse(compact: value, source: source)
        },
    ] + ["pro", "enterprise"].map { plan in
        string("payments.stripe.plan_prices.\(plan)") { config, value in
            config.payments.stripe.planPrices[plan] = value.isEmpty ? nil : value
        }
    }

    /// Reads the secrets that may come from files, once, after every other source.
    static func readPaymentSecretFiles(_ config: inout SluiceConfig) throws {
        var stripe = config.payments.stripe
        if stripe.secretKey.isEmpty, !stripe.secretKeyFile.isEmpty {
            stripe.secretKey = try secretFile(stripe.secretKeyFile, key: "payments.stripe.secret_key_file")
        }
        if stripe.webhookSecrets.isEmpty, !stripe.webhookSecretFile.isEmpty {
            stripe.webhookSecrets = try secretFile(stripe.webhookSecretFile, key: "payments.stripe.webhook_secret_file")
                .split(whereSeparator: { $0 == "," || $0.isNewline }).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        if stripe.enabled, stripe.webhookSecrets.isEmpty {
            throw Error(description: "payments.stripe.secret_key is set but payments.stripe.webhook_secret is not: webhooks could not be verified")
        }
        config.payments.stripe = stripe
    }

    static func secretFile(_ path: String, key: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw Error(description: "cannot read \(key) \(path)") }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Credit packs: in YAML a mapping of name to `credits` and `price` (in the currency's major
/// unit, such as dollars); in the environment `name=credits@price,…`.
enum PacksParser {
    static func parse(_ raw: Any, source: String) throws -> [String: SluiceConfig.Pack] {
        guard let mapping = raw as? [String: Any] else { throw ConfigLoader.Error(description: "\(source): payments.stripe.packs must be a mapping") }
        var packs: [String: SluiceConfig.Pack] = [:]
        for (name, value) in mapping {
            guard let fields = value as? [String: Any], Set(fields.keys) == ["credits", "price"] else {
                throw ConfigLoader.Error(description: "\(source): payments.stripe.packs.\(name) must have exactly credits and price")
            }
            packs[name] = try pack(name, credits: "\(fields["credits"]!)", price: "\(fields["price"]!)", source: source)
        }
        return packs
    }

    static func parse(compact text: String, source: String) throws -> [String: SluiceConfig.Pack] {
        var packs: [String: SluiceConfig.Pack] = [:]
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1)
            let amounts = parts.count == 2 ? parts[1].split(separator: "@") : []
            guard amounts.count == 2 else {
                throw ConfigLoader.Error(description: "\(source): payments.stripe.packs must read name=credits@price,…, got \(item)")
            }
            let name = parts[0].trimmingCharacters(in: .whitespaces)
            packs[name] = try pack(name, credits: String(amounts[0]), price: String(amounts[1]), source: source)
        }
        return packs
    }

    static func pack(_ name: String, credits: String, price: String, source: String) throws -> SluiceConfig.Pack {
        guard !name.isEmpty, name.count <= 40, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw ConfigLoader.Error(description: "\(source): a pack name is 1 to 40 letters, digits, - or _, got \(name)")
        }
        guard let amount = Credits(decimal: credits.trimmingCharacters(in: .whitespaces)), amount > .zero else {
            throw ConfigLoader.Error(description: "\(source): payments.stripe.packs.\(name).credits must be a positive decimal")
        }
        guard let cents = minorUnits(price.trimmingCharacters(in: .whitespaces)), cents > 0 else {
            throw ConfigLoader.Error(description: "\(source): payments.stripe.packs.\(name).price must be a positive amount with at most 2 decimals")
        }
        return SluiceConfig.Pack(name: name, credits: amount, priceCents: cents)
    }

    /// `"5"`, `"5.5"` or `"5.50"` as 550: decimal text to cents, never through a float.
    static func minorUnits(_ text: String) -> Int64? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), !parts[0].isEmpty, parts[0].count <= 9, parts[0].allSatisfy(\.isASCII),
              let whole = Int64(parts[0]), whole >= 0
        else { return nil }
        var cents: Int64 = 0
        if parts.count == 2 {
            let fraction = parts[1]
            guard (1...2).contains(fraction.count), fraction.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int64(fraction) else { return nil }
            cents = fraction.count == 1 ? value * 10 : value
        }
        return whole * 100 + cents
    }
}
