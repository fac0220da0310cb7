import Foundation
import SluiceCore
import SluiceServer
import Testing

@Suite struct ConfigTests {
    static let example = Harness.repoRoot.appendingPathComponent("config/sluice.example.yaml").path

    @Test func theExampleFileIsValidAndStatesTheDefaults() throws {
        let fromExample = try ConfigLoader.load(file: Self.example, environment: [:])
        let defaults = SluiceConfig()
        #expect(fromExample.server.port == defaults.server.port)
        #expect(fromExample.server.maxBodyBytes == defaults.server.maxBodyBytes)
        #expect(fromExample.upstream.maxAttempts == defaults.upstream.maxAttempts)
        #expect(fromExample.billing.creditsPerUSD == defaults.billing.creditsPerUSD)
        #expect(fromExample.settlement.queueCapacity == defaults.settlement.queueCapacity)
        #expect(fromExample.auth.keyCacheTTLMillis == defaults.auth.keyCacheTTLMillis)
        #expect(fromExample.auth.bcryptCost == defaults.auth.bcryptCost)
        #expect(fromExample.plans == defaults.plans)
    }

    @Test func plansAreReadFromNestedKeysAndTheEnvironment() throws {
        var config = SluiceConfig()
        try ConfigLoader.apply(yaml: "plans:\n  pro:\n    monthly_credits: \"12.5\"\n    features: [a, b]\n", source: "x.yaml", to: &config)
        try ConfigLoader.apply(environment: ["SLUICE_PLANS_FREE_POOL_UNIT": "requests"], to: &config)
        #expect(config.plans["pro"]?.monthlyCredits == Credits(micros: 12_500_000))
        #expect(config.plans["pro"]?.features == ["a", "b"])
        #expect(config.plans["free"]?.poolUnit == "requests")
        #expect(throws: ConfigLoader.Error.self) { try ConfigLoader.apply(yaml: "plans:\n  gold:\n    pool_unit: tokens\n", source: "x.yaml", to: &config) }
        #expect(throws: ConfigLoader.Error.self) { try ConfigLoader.apply(yaml: "auth:\n  bcrypt_cost: 10\n", source: "x.yaml", to: &config) }
    }

    @Test func everyKeyIsInTheExampleFile() throws {
        let text = try String(contentsOfFile: Self.example, encoding: .utf8)
        for key in ConfigLoader.documentedKeys {
            // Each part at its depth: `plans.free.pool_unit` is `plans:`, then `  free:`, then `    pool_unit:`.
            let parts = key.split(separator: ".")
            for (depth, part) in parts.enumerated() {
                let indent = String(repeating: "  ", count: depth)
                #expect(text.contains("\n\(indent)\(part):"), "\(key) is not documented")
            }
        }
    }

    @Test func environmentWinsOverTheFile() throws {
        let config = try ConfigLoader.load(file: Self.example, environment: ["SLUICE_SERVER_PORT": "9999", "SLUICE_BILLING_CREDITS_PER_USD": "0.5"])
        #expect(config.server.port == 9999)
        #expect(config.billing.creditsPerUSD == Credits(micros: 500_000))
    }

    @Test func unknownKeysAndBadValuesAreRejected() throws {
        var config = SluiceConfig()
        #expect(throws: ConfigLoader.Error.self) { try ConfigLoader.apply(yaml: "server:\n  prot: 1\n", source: "x.yaml", to: &config) }
        #expect(throws: ConfigLoader.Error.self) { try ConfigLoader.apply(yaml: "sever:\n  port: 1\n", source: "x.yaml", to: &config) }
        #expect(throws: ConfigLoader.Error.self) { try ConfigLoader.apply(yaml: "server:\n  port: 70000\n", source: "x.yaml", to: &config) }
        #expect(throws: ConfigLoader.Error.self) { try ConfigLoader.apply(environment: ["SLUICE_SERVER_PROT": "1"], to: &config) }
        #expect(throws: ConfigLoader.Error.self) { try ConfigLoader.apply(yaml: "billing:\n  credits_per_usd: -1\n", source: "x.yaml", to: &config) }
    }
}

@Suite struct ModelAliasConfigTests {
    func aliases(_ yaml: String) throws -> ModelAliases {
        var config = SluiceConfig()
        try ConfigLoader.apply(yaml: "models:\n  aliases:\n" + yaml, source: "x.yaml", to: &config)
        return config.models.aliases
    }

    @Test func aliasesAreReadWithTheirRoutingAndWeights() throws {
        let read = try aliases(
            "    smart:\n      routing: weighted\n      targets: [gpt-4o, {model: claude-sonnet-4-5, weight: 3}]\n"
                + "    fast:\n      targets: [gpt-4o-mini]\n")
        #expect(read["smart"] == ModelAlias(name: "smart", routing: .weighted, targets: [.init(model: "gpt-4o"), .init(model: "claude-sonnet-4-5", weight: 3)]))
        #expect(read["fast"] == ModelAlias(name: "fast", routing: .ordered, targets: [.init(model: "gpt-4o-mini")]))
    }

    @Test func aBadAliasStopsTheStartNamingIt() throws {
        let bad = [
            "    smart:\n      targets: []\n": "smart.targets must list at least one model",
            "    smart:\n      routing: random\n      targets: [a]\n": "smart.routing must be ordered or weighted",
            "    smart:\n      targets: [{model: a, weight: 0}]\n": "the weight of a must be an integer from 1 to 1000",
            "    smart:\n      targets: [a, a]\n": "names a model twice",
            "    smart:\n      targets: [a]\n      retries: 2\n": "unknown key models.aliases.smart.retries",
            "    smart:\n      targets: [fast]\n    fast:\n      targets: [a]\n": "a target cannot be another alias",
        ]
        for (yaml, problem) in bad {
            #expect(throws: ConfigLoader.Error.self) { try aliases(yaml) }
            do { _ = try aliases(yaml) } catch { #expect("\(error)".contains(problem), "\(error)") }
        }
        // No environment variable stands for an alias.
        var config = SluiceConfig()
        #expect(throws: ConfigLoader.Error.self) { try ConfigLoader.apply(environment: ["SLUICE_MODELS_ALIASES": "smart=a"], to: &config) }
    }

    @Test func anAliasOfAModelNoProviderOffersStopsTheStart() async throws {
        var config = Harness.config(directory: NSTemporaryDirectory() + "sluice-alias-\(UUID().uuidString)")
        config.models.aliases = ModelAliases([ModelAlias(name: "smart", routing: .ordered, targets: [.init(model: "gpt-9")])])
        await #expect(throws: StartupError.self) { _ = try await openGateway(config: config, logger: .init(label: "test")) }
    }
}

@Suite struct KeyHashTests {
    @Test func hashIsLowercaseHexSHA256() {
        // SHA-256("abc"), from FIPS 180-2.
        #expect(KeyAuthenticator.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
