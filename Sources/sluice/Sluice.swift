import ArgumentParser
import Foundation
import Logging
import NIOCore
import NIOPosix
import SluiceCore
import SluiceServer
import SluiceStore
import Synchronization

@main
struct Sluice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "An OpenAI-compatible AI gateway.",
        subcommands: [
            Serve.self, Migrate.self, Users.self, Keys.self, Accounts.self, Credits.self, Usage.self, Codes.self, ConfigCommand.self, Backup.self,
            MockUpstreamCommand.self, MCPCommand.self,
        ])

    /// The entry point: ArgumentParser's own, after fixing the number of NIO event loops, which must
    /// happen before anything touches NIO's shared loops.
    ///
    /// Swift concurrency stays on its own thread pool. NIO can move it onto its event loops
    /// (`unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor`), saving a thread
    /// hop at each await that touches the network. Measured with the gateway on one core, that cost
    /// throughput instead: 6.0–6.8k against 6.7–7.8k requests/s at 32 connections, lower in each of
    /// three alternated pairs, with the same latency at one connection (docs/benchmarks.md). NIO's
    /// installer also finds the runtime's hook with dlsym, which fails in a binary with the runtime
    /// linked in (`--static-swift-stdlib`), so release builds already ran this way.
    static func main() async {
        NIOSingletons.groupLoopCountSuggestion = EventLoopSizing.loopCount
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// Options every command shares.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "YAML config file (default: $SLUICE_CONFIG, else built-in defaults).")
    var config: String?

    func load() throws -> SluiceConfig {
        let file = config ?? ProcessInfo.processInfo.environment["SLUICE_CONFIG"]
        let loaded = try ConfigLoader.load(file: file)
        bootstrapLogging(loaded.logging)
        return loaded
    }

    /// Opens the store for a one-shot admin command, runs `body`, and closes the store
    /// (PostgreSQL's connections and their task) whether `body` succeeds or not.
    func withGateway(_ body: (SluiceConfig, Gateway) async throws -> Void) async throws {
        let config = try load()
        let gateway = try await SluiceServer.openGateway(config: config, logger: Logger(label: "sluice"))
        do {
            try await body(config, gateway)
        } catch {
            await gateway.close()
            throw error
        }
        await gateway.close()
    }
}

/// swift-log may be bootstrapped once per process.
private let loggingBootstrapped = Atomic<Bool>(false)

/// Logs go to standard error, so command output on standard output stays machine-readable.
func bootstrapLogging(_ logging: SluiceConfig.Logging) {
    guard !loggingBootstrapped.exchange(true, ordering: .relaxed) else { return }
    let logLevel = Logger.Level(rawValue: logging.level) ?? .info
    if logging.format == "json" {
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: logLevel) }
        return
    }
    LoggingSystem.bootstrap { label in
        var handler = StreamLogHandler.standardError(label: label)
        handler.logLevel = logLevel
        return DeferredMetadataLogHandler(handler)
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")
    @OptionGroup var options: CommonOptions

    func run() async throws {
        let config = try options.load()
        // Opening the store applies what is missing.
        let store = try await SluiceServer.openStore(config.database, logger: Logger(label: "sluice"))
        await store.close()
        print("migrations applied to \(config.database.url.isEmpty ? config.database.path : "the PostgreSQL database")")
    }
}
