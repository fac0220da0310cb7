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
    }

    @Test func everyKeyIsInTheExampleFile() throws {
        let text = try String(contentsOfFile: Self.example, encoding: .utf8)
        for key in ConfigLoader.documentedKeys {
            let (section, name) = (key.split(separator: ".")[0], key.split(separator: ".")[1])
            #expect(text.contains("\n\(section):") && text.contains("  \(name):"), "\(key) is not documented")
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

@Suite struct KeyHashTests {
    @Test func hashIsLowercaseHexSHA256() {
        // SHA-256("abc"), from FIPS 180-2.
        #expect(KeyAuthenticator.hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
