import ArgumentParser
import Foundation
import Hummingbird
import Logging
import SluiceMockUpstream
import SluiceServer

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the gateway.")
    @OptionGroup var options: CommonOptions

    @Option(help: "Port to listen on (overrides server.port).")
    var port: Int?

    @Flag(help: "Start with a built-in demo upstream, a throwaway database and a seeded demo user.")
    var demo = false

    func run() async throws {
        var config = try options.load()
        if let port { config.server.port = port }
        let logger = Logger(label: "sluice")
        guard demo else {
            let gateway = try await openGateway(config: config, logger: logger)
            let app = try await buildApplication(config: config, gateway: gateway, logger: logger)
            try await runGateway(app, gateway: gateway, config: config, logger: logger)
            return
        }
        try await runDemo(config: config, logger: logger)
    }

    private func runDemo(config base: SluiceConfig, logger: Logger) async throws {
        try checkEnvironment(base, demo: true)
        let directory = NSTemporaryDirectory() + "sluice-demo-\(ProcessInfo.processInfo.processIdentifier)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let config = Demo.config(base: base, directory: directory)
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let upstream = MockUpstream.application(control: MockControl(recordRequests: false)) { port in
            portContinuation.yield(port)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The demo upstream runs until the gateway returns, then this group cancels it.
            group.addTask { try await upstream.run() }
            var ports = portStream.makeAsyncIterator()
            guard let upstreamPort = await ports.next() else { return }
            let gateway = try await openGateway(config: config, extraProviders: [Demo.manifest(port: upstreamPort)], logger: logger)
            let seeded = try await Demo.seed(gateway, passwordCost: config.auth.bcryptCost)
            let app = try await buildApplication(config: config, gateway: gateway, logger: logger) { port in
                // Unbuffered, so the key shows at once even when output is piped.
                FileHandle.standardOutput.write(Data((Demo.banner(seeded: seeded, host: config.server.host, port: port, upstreamPort: upstreamPort) + "\n").utf8))
            }
            try await runGateway(app, gateway: gateway, config: config, logger: logger)
            group.cancelAll()
        }
    }
}
