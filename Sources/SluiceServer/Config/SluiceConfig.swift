import Foundation
import SluiceCore

/// Everything Sluice reads at startup. Each key is documented in `config/sluice.example.yaml`,
/// and `ConfigLoader` rejects keys it does not know.
public struct SluiceConfig: Sendable {
    public var server = Server()
    public var database = Database()
    public var providers = Providers()
    public var security = Security()
    public var billing = Billing()
    public var upstream = Upstream()
    public var auth = Auth()
    public var accounts = Accounts()
    public var settlement = Settlement()
    public var logging = Logging()

    public init() {}

    public struct Server: Sendable {
        public var host = "127.0.0.1"
        public var port = 8080
        public var maxBodyBytes = 4 << 20
    }

    public struct Database: Sendable {
        public var path = "data/sluice.sqlite"
        /// Empty: found next to the working directory or the executable.
        public var migrationsDir = ""
    }

    public struct Providers: Sendable {
        /// Empty: found next to the working directory or the executable.
        public var dir = ""
    }

    public struct Security: Sendable {
        /// Base64 of 32 random bytes. Prefer the environment or a file to the YAML file.
        public var encryptionKey = ""
        public var encryptionKeyFile = ""
        public var encryptionKeyVersion = 1
    }

    public struct Billing: Sendable {
        public var creditsPerUSD = Credits(whole: 1)
    }

    public struct Upstream: Sendable {
        public var connectTimeoutSeconds = 5
        /// Longest wait for a response head; a slower upstream counts as failed and the next is tried.
        public var headTimeoutSeconds = 60
        /// Longest silence inside a streaming body before the stream is abandoned.
        public var readTimeoutSeconds = 120
        public var maxAttempts = 3
        public var maxResponseBytes = 32 << 20
    }

    public struct Auth: Sendable {
        public var keyCacheTTLMillis = 1000
        public var keyCacheSize = 10_000
    }

    public struct Accounts: Sendable {
        public var refreshSeconds = 5
    }

    public struct Settlement: Sendable {
        public var queueCapacity = 100_000
        public var batchSize = 512
        /// How long the writer waits for more settled requests before a transaction; see `SettlementWriter`.
        public var gatherMillis = 5
    }

    public struct Logging: Sendable {
        public var level = "info"
    }
}
