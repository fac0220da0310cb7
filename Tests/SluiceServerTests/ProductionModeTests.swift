import Foundation
import NIOHTTP1
@testable import SluiceServer
import Testing

/// `environment: production`: no API docs unless asked for, and no start without real secrets or
/// with the demo.
@Suite struct ProductionModeTests {
    static func production(_ config: inout SluiceConfig) {
        config.environment = .production
        config.auth.jwtSecret = String(repeating: "s", count: 48)
    }

    /// The status of each path, fetched in turn.
    static func statuses(_ h: Harness, _ paths: [String]) async throws -> [Int] {
        var statuses: [Int] = []
        for path in paths { statuses.append(try await h.request(path, method: .GET, key: nil).status) }
        return statuses
    }

    @Test func productionServesNoAPIDocsUnlessTurnedOn() async throws {
        let paths = ["/openapi.json", "/docs", "/api/subscriptions/plans"]
        try await Harness.run(configure: { Self.production(&$0) }) { h in
            let statuses = try await Self.statuses(h, paths)
            #expect(statuses == [404, 404, 200])
        }
        try await Harness.run(configure: { Self.production(&$0); $0.server.apiDocs = true }) { h in
            let statuses = try await Self.statuses(h, paths)
            #expect(statuses == [200, 200, 200])
        }
        try await Harness.run { h in
            let statuses = try await Self.statuses(h, paths)
            #expect(statuses == [200, 200, 200])
        }
    }

    @Test func productionRefusesMissingSecretsAndTheDemo() throws {
        var config = SluiceConfig()
        config.security.encryptionKey = Data(repeating: 7, count: 32).base64EncodedString()
        try checkEnvironment(config, demo: true)
        config.environment = .production
        #expect(throws: StartupError.self) { try checkEnvironment(config) }
        config.auth.jwtSecret = "too-short"
        #expect(throws: StartupError.self) { try checkEnvironment(config) }
        config.auth.jwtSecret = String(repeating: "k", count: 32)
        try checkEnvironment(config)
        #expect(throws: StartupError.self) { try checkEnvironment(config, demo: true) }
        config.security.encryptionKey = ""
        #expect(throws: StartupError.self) { try checkEnvironment(config) }
    }

    @Test func theCommandLineRefusesAProductionDemoAndSaysWhyInConfigCheck() throws {
        let directory = NSTemporaryDirectory() + "sluice-prod-\(UUID().uuidString)"
        let env = [
            "SLUICE_ENVIRONMENT": "production", "SLUICE_DATABASE_PATH": directory + "/db.sqlite",
            "SLUICE_SECURITY_ENCRYPTION_KEY": Data(repeating: 1, count: 32).base64EncodedString(),
        ]
        #expect(try CommandLineTests.run(["serve", "--demo", "--port", "0"], environment: env).status != 0)
        let check = try CommandLineTests.run(["config", "check"], environment: env)
        #expect(check.status != 0)
        var complete = env
        complete["SLUICE_AUTH_JWT_SECRET"] = String(repeating: "j", count: 40)
        let ok = try CommandLineTests.run(["config", "check"], environment: complete)
        #expect(ok.status == 0)
        #expect(ok.output.contains("environment: production, /docs and /openapi.json off"))
    }

    @Test func theEnvironmentIsReadFromTheTopLevelOfTheFile() throws {
        var config = SluiceConfig()
        try ConfigLoader.apply(yaml: "environment: production\nserver:\n  api_docs: true\n", source: "t", to: &config)
        #expect(config.environment == .production && config.serveAPIDocs)
        #expect(throws: ConfigLoader.Error.self) { try ConfigLoader.apply(yaml: "environment: staging\n", source: "t", to: &config) }
        #expect(throws: ConfigLoader.Error.self) { try ConfigLoader.apply(yaml: "color: blue\n", source: "t", to: &config) }
    }
}
