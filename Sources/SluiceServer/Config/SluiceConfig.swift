import Foundation
import SluiceCore

/// Everything Sluice reads at startup. Each key is documented in `config/sluice.example.yaml`,
/// and `ConfigLoader` rejects keys it does not know.
public struct SluiceConfig: Sendable {
    public var environment = Environment.development
    public var server = Server()
    public var database = Database()
    public var redis = Redis()
    public var providers = Providers()
    public var models = Models()
    public var responses = Responses()
    public var security = Security()
    public var billing = Billing()
    public var upstream = Upstream()
    public var auth = Auth()
    public var accounts = Accounts()
    public var settlement = Settlement()
    public var logging = Logging()
    public var metrics = Metrics()
    public var plans = Plan.defaults
    public var payments = Payments()
    public var webhooks = Webhooks()
    public var tracing = Tracing()
    public var email = Email()
    public var files = Files()

    public init() {}

    public struct Server: Sendable {
        public var host = "127.0.0.1"
        public var port = 8080
        public var maxBodyBytes = 4 << 20
        /// An SSE comment goes to a streaming client after this much upstream silence; 0: never.
        public var sseKeepaliveSeconds = 15
        /// A relayed stream is ended after this long or this many bytes; 0: no limit.
        public var maxStreamSeconds = 7200
        public var maxStreamBytes = 256 << 20
        /// Hostile clients: a connection silent this long (between requests, or before its
        /// request's head is whole) is closed; so is one whose request takes longer than
        /// `requestReadSeconds` to arrive. Headers past `maxHeaderBytes` close the connection, and
        /// connections past `maxConnections` wait to be accepted.
        public var idleTimeoutSeconds = 60
        public var requestReadSeconds = 30
        public var maxHeaderBytes = 32 << 10
        public var maxConnections = 8192
        /// After SIGTERM, how long running streams may go on before they are ended, and how long
        /// before that the listener stays open with readiness answering 503.
        public var drainSeconds = 30
        public var unreadySeconds = 2
        public var cors = CORS()
        /// Whether `/docs` and `/openapi.json` are served; unset, they are except in production.
        public var apiDocs: Bool?
        /// The address people reach the gateway at, for links in mail and SSO redirects.
        /// Empty: `http://<host>:<port>`.
        public var publicURL = ""
        /// The dashboard's files; empty: `Dashboard/` found as `Providers/` is.
        public var dashboardDir = ""

        public var baseURL: String {
            guard publicURL.isEmpty else { return publicURL }
            return "http://\(host.contains(":") ? "[\(host)]" : host):\(port)"
        }
    }

    public struct Database: Sendable {
        public var path = "data/sluice.sqlite"
        /// A `postgres://` URL selects PostgreSQL; empty keeps the SQLite file at `path`.
        public var url = ""
        /// The directory holding `sqlite/` and `postgres/`. Empty: `Migrations/` found next to
        /// the working directory or the executable.
        public var migrationsDir = ""
    }

    public struct Redis: Sendable {
        /// A `redis://` URL shares holds, rate windows and pool events between instances; empty
        /// keeps them in process.
        public var url = ""
        /// Connections commands are spread over; each is pipelined, so a few serve any load.
        public var poolSize = 2
        public var timeoutMillis = 500
        /// Prefix of every key, so deployments can share one Redis.
        public var keyPrefix = "sluice"
        /// How long a hold outlives an instance that died holding it.
        public var holdLeaseSeconds = 3600
    }

    public struct Providers: Sendable {
        /// Empty: found next to the working directory or the executable.
        public var dir = ""
    }

    public struct Models: Sendable {
        /// Public model names served by models of several providers; file only (see the example).
        public var aliases = ModelAliases()
    }

    public struct Responses: Sendable {
        /// How long `/v1/responses` keeps an answer for `previous_response_id`; 0 keeps none.
        public var retentionHours = 720
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
        /// HMAC key for access tokens. Empty: a random one per start (tokens die with the process).
        public var jwtSecret = ""
        public var jwtIssuer = "sluice"
        public var jwtAudience = "sluice-api"
        public var accessTokenTTLSeconds = 3600
        public var refreshTokenTTLDays = 30
        /// The loader refuses less than 12; tests build configs directly to hash faster.
        public var bcryptCost = 12
        public var allowRegistration = true
        public var loginAttemptsPerIPPerMinute = 20
        public var loginFailuresPerAccountPer15Minutes = 5
        public var external = ExternalIdentity()
        public var sso = SSO()
        /// Admin routes answer 403 to an admin who has not turned on two-factor sign-in.
        public var requireAdminTwoFactor = false
    }

    public struct Accounts: Sendable {
        public var refreshSeconds = 5
        /// A conversation stays on its account through cooldowns up to this long.
        public var stickyGraceSeconds = 10
        /// A conversation's binding is forgotten after this long unused.
        public var stickyTTLSeconds = 3600
        /// When every account is cooling and the first is back within this, the request waits for it.
        public var waitForCooldownMillis = 2000
        /// How long a request waits for a busy account (one at its `max_concurrency`).
        public var queueTimeoutMillis = 5000
        /// Requests that may wait for busy accounts at once; more get 429 at once.
        public var maxQueuedRequests = 1000
        /// Extra pool allowance, in percent of the plan's, for users who share an account in surplus mode.
        public var contributorBonusPercent = 50
        /// Extra pool allowance, in percent of the plan's, per trust level (0 to 4) an admin gives a user.
        public var trustBonusPercentPerLevel = 25
        /// An OAuth account's access token is refreshed when it expires within this long.
        public var oauthRefreshAheadSeconds = 300
    }

    public struct Settlement: Sendable {
        public var queueCapacity = 100_000
        public var batchSize = 512
        /// How long the writer waits for more settled requests before a transaction; see `SettlementWriter`.
        public var gatherMillis = 5
        /// How often running requests are checkpointed for crash recovery; see `InFlightJournal`.
        public var checkpointMillis = 1000
        /// How long a checkpoint stays this instance's before another may settle the request.
        public var checkpointLeaseSeconds = 15
    }

    public struct Logging: Sendable {
        public var level = "info"
        /// `text` (swift-log's lines) or `json` (one object per line).
        public var format = "text"
        /// One `info` line per request: route, status, latency and, for gateway requests, user, key
        /// prefix, model, account, tokens, cost and end reason.
        public var accessLog = true
    }

    public struct Metrics: Sendable {
        /// Whether `GET /metrics` answers.
        public var enabled = true
        /// When set, `/metrics` wants `Authorization: Bearer <token>`.
        public var bearerToken = ""
    }

    /// A subscription plan. The three plans are fixed by name; config sets what each gives.
    public struct Plan: Sendable, Equatable {
        public static let names = ["free", "pro", "enterprise"]

        public var name: String
        public var displayName: String
        /// Granted once per calendar month (UTC) to each user on the plan.
        public var monthlyCredits: Credits
        public var features: [String]
        /// The shared-pool allowance: a budget of `poolCapacity` that refills `poolRecoveryPerHour`.
        public var poolCapacity: Int
        public var poolRecoveryPerHour: Int
        /// `tokens` or `requests`.
        public var poolUnit: String
        /// A user's balance falling below this fires `balance.low`; zero: never.
        public var lowBalanceCredits = Credits.zero

        public static let defaults: [String: Plan] = [
            "free": Plan(
                name: "free", displayName: "Free", monthlyCredits: Credits(whole: 1), features: ["shared-pool"],
                poolCapacity: 200_000, poolRecoveryPerHour: 20_000, poolUnit: "tokens"),
            "pro": Plan(
                name: "pro", displayName: "Pro", monthlyCredits: Credits(whole: 20), features: ["shared-pool", "dedicated-accounts"],
                poolCapacity: 2_000_000, poolRecoveryPerHour: 200_000, poolUnit: "tokens"),
            "enterprise": Plan(
                name: "enterprise", displayName: "Enterprise", monthlyCredits: Credits(whole: 200),
                features: ["shared-pool", "dedicated-accounts", "priority-support"],
                poolCapacity: 20_000_000, poolRecoveryPerHour: 2_000_000, poolUnit: "tokens"),
        ]
    }
}
