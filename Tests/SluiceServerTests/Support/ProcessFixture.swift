import Foundation
import Logging
import SluiceMockUpstream
import SluiceServer
import SluiceStore
import SluiceTestSupport
import Testing

/// What tests that run `sluice serve` processes share: a temporary directory whose `providers/`
/// names a mock upstream running in this process, the processes' config file, and a seed gateway
/// on that config for the operator's side (the schema, and one shared account on the mock whose
/// secret, and so whose mock behaviour, is "a").
struct ProcessFixture: Sendable {
    let directory: String
    let configPath: String
    let environment: [String: String]
    let seed: Gateway
    let control: MockControl

    /// Starts a `sluice serve` on the fixture's config, logging to `<directory>/<name>.log`.
    func start(_ name: String) async throws -> GatewayProcess {
        try await GatewayProcess(
            configPath: configPath, port: try GatewayProcess.freePort(), environment: environment, logPath: "\(directory)/\(name).log")
    }

    /// Runs `body` with a fixture whose config file is `configuration(directory)`; stops the mock
    /// and closes the seed after it.
    static func with<T: Sendable>(
        _ label: String, configuration: (_ directory: String) async throws -> String, _ body: (ProcessFixture) async throws -> T
    ) async throws -> T {
        let directory = NSTemporaryDirectory() + "sluice-\(label)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/providers", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let control = MockControl()
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await MockUpstream.application(control: control) { portSink.yield($0) }.run() }
            var iterator = ports.makeAsyncIterator()
            let mockPort = try #require(await iterator.next())
            try Self.manifest(mockPort: mockPort).write(toFile: directory + "/providers/mock.json", atomically: true, encoding: .utf8)
            let configPath = directory + "/sluice.yaml"
            try await configuration(directory).write(toFile: configPath, atomically: true, encoding: .utf8)
            let environment = ["SLUICE_SECURITY_ENCRYPTION_KEY": SecretBox.generateKeyBase64()]
            var config = try ConfigLoader.load(file: configPath, environment: environment)
            config.logging.level = "error"
            let seed = try await openGateway(config: config, logger: Logger(label: "test"))
            _ = try await seed.store.addAccount(
                provider: "mock", kind: .apiKey, baseURL: nil, models: [], priority: 0, weight: 1, ownerUserID: nil,
                sharing: AccountSharing(), secret: try seed.secrets.seal("a"))
            let fixture = ProcessFixture(directory: directory, configPath: configPath, environment: environment, seed: seed, control: control)
            let outcome = await Result { try await body(fixture) }
            await seed.close()
            group.cancelAll()
            return try outcome.get()
        }
    }

    static func manifest(mockPort: Int) -> String {
        """
        {"id": "mock", "name": "Mock", "base_url": "http://127.0.0.1:\(mockPort)/v1", "wire_protocol": "openai-chat",
         "auth": {"style": "bearer"}, "reset_hints": ["retry-after"],
         "models": [{"id": "\(Harness.model)", "context_window": 100000, "max_output_tokens": 1000,
                     "price": {"input": "1", "output": "2", "cached_input": "0.5"}}]}
        """
    }

    /// Plan keys granting no monthly credits, so balances move by charges alone.
    static var plansWithoutGrants: String {
        SluiceConfig.Plan.names.map { "  \($0):\n    monthly_credits: \"0\"" }.joined(separator: "\n")
    }
}
