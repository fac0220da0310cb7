import Foundation
import SluiceCore
import Yams

/// Reads `SluiceConfig` once: defaults, then the YAML file, then `SLUICE_<SECTION>_<KEY>`
/// environment variables. Unknown keys and unknown `SLUICE_` variables are errors.
public enum ConfigLoader {
    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    /// Variables that are not config keys but are read by the CLI itself.
    static let reservedEnvironment: Set<String> = ["SLUICE_CONFIG"]

    public static func load(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> SluiceConfig {
        var config = SluiceConfig()
        if let file {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw Error(description: "cannot read config file \(file)") }
            try apply(yaml: text, source: file, to: &config)
        }
        try apply(environment: environment, to: &config)
        if config.security.encryptionKey.isEmpty, !config.security.encryptionKeyFile.isEmpty {
            guard let key = try? String(contentsOfFile: config.security.encryptionKeyFile, encoding: .utf8) else {
                throw Error(description: "cannot read security.encryption_key_file \(config.security.encryptionKeyFile)")
            }
            config.security.encryptionKey = key.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        try readPaymentSecretFiles(&config)
        try finishSignIn(&config)
        try finishFiles(&config)
        return config
    }

    public static func apply(yaml text: String, source: String, to config: inout SluiceConfig) throws {
        let root: Any?
        do { root = try Yams.load(yaml: text) } catch { throw Error(description: "\(source): not valid YAML") }
        guard let root else { return }
        guard let sections = root as? [String: Any] else { throw Error(description: "\(source): the top level must be a mapping") }
        for (section, value) in sections {
            // The one top-level scalar.
            if section == "environment", let key = keys.first(where: { $0.path == section }) {
                try key.apply(&config, "\(value)", source)
                continue
            }
            guard let fields = value as? [String: Any] else { throw Error(description: "\(source): \(section) must be a mapping") }
            try apply(fields, prefix: section, source: source, to: &config)
        }
    }

    /// Applies a mapping's leaves as dotted keys; `plans` nests one level deeper than the rest.
    static func apply(_ fields: [String: Any], prefix: String, source: String, to config: inout SluiceConfig) throws {
        for (name, raw) in fields {
            let path = "\(prefix).\(name)"
            if path == "models.aliases" {
                config.models.aliases = try ModelAliasesParser.parse(raw, source: source)
                continue
            }
            if path == "payments.stripe.packs", raw is [String: Any] {
                config.payments.stripe.packs = try PacksParser.parse(raw, source: source)
                continue
            }
            if let nested = raw as? [String: Any] {
                try apply(nested, prefix: path, source: source, to: &config)
                continue
            }
            guard let key = keys.first(where: { $0.path == path }) else { throw Error(description: "\(source): unknown key \(path)") }
            let value = (raw as? [Any]).map { $0.map { "\($0)" }.joined(separator: ",") } ?? "\(raw)"
            try key.apply(&config, value, source)
        }
    }

    public static func apply(environment: [String: String], to config: inout SluiceConfig) throws {
        for (name, value) in environment where name.hasPrefix("SLUICE_") && !reservedEnvironment.contains(name) {
            guard let key = keys.first(where: { $0.environmentName == name }) else {
                throw Error(description: "unknown environment variable \(name)")
            }
            try key.apply(&config, value, name)
        }
    }

    struct Key: Sendable {
        let path: String
        let apply: @Sendable (inout SluiceConfig, String, String) throws -> Void
        var environmentName: String { "SLUICE_" + path.uppercased().replacingOccurrences(of: ".", with: "_") }
    }

    static func string(_ path: String, _ set: @escaping @Sendable (inout SluiceConfig, String) -> Void) -> Key {
        Key(path: path) { config, value, _ in set(&config, value) }
    }

    static func int(_ path: String, min: Int = 0, max: Int = Int.max, _ set: @escaping @Sendable (inout SluiceConfig, Int) -> Void) -> Key {
        Key(path: path) { config, value, source in
            guard let n = Int(value.trimmingCharacters(in: .whitespaces)), n >= min, n <= max else {
                throw Error(description: "\(source): \(path) must be an integer from \(min) to \(max), got \(value)")
            }
            set(&config, n)
        }
    }

    static func bool(_ path: String, _ set: @escaping @Sendable (inout SluiceConfig, Bool) -> Void) -> Key {
        Key(path: path) { config, value, source in
            switch value.lowercased() {
            case "true", "1", "yes": set(&config, true)
            case "false", "0", "no": set(&config, false)
            default: throw Error(description: "\(source): \(path) must be true or false, got \(value)")
            }
        }
    }

    static func credits(_ path: String, _ set: @escaping @Sendable (inout SluiceConfig, Credits) -> Void) -> Key {
        Key(path: path) { config, value, source in
            guard let credits = Credits(decimal: value.trimmingCharacters(in: .whitespaces)), credits >= .zero else {
                throw Error(description: "\(source): \(path) must be a non-negative decimal with at most 6 decimals, got \(value)")
            }
            set(&config, credits)
        }
    }

    static func planKeys(_ name: String) -> [Key] {
        let p = "plans.\(name)"
        return [
            string("\(p).display_name") { $0.plans[name]?.displayName = $1 },
            credits("\(p).monthly_credits") { $0.plans[name]?.monthlyCredits = $1 },
            string("\(p).features") { config, value in
                config.plans[name]?.features = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            },
            int("\(p).pool_capacity") { $0.plans[name]?.poolCapacity = $1 },
            int("\(p).pool_recovery_per_hour") { $0.plans[name]?.poolRecoveryPerHour = $1 },
            credits("\(p).low_balance_credits") { $0.plans[name]?.lowBalanceCredits = $1 },
            Key(path: "\(p).pool_unit") { config, value, source in
                guard ["tokens", "requests"].contains(value) else { throw Error(description: "\(source): \(p).pool_unit must be tokens or requests") }
                config.plans[name]?.poolUnit = value
            },
        ]
    }

    /// Every key's dotted name, for documentation checks.
    public static var documentedKeys: [String] { keys.map(\.path) }

    /// Every key, in the order of the example file.
    static let keys: [Key] = [
        string("server.host") { $0.server.host = $1 },
        string("server.dashboard_dir") { $0.server.dashboardDir = $1 },
        int("server.port", max: 65535) { $0.server.port = $1 },
        int("server.max_body_bytes", min: 1024) { $0.server.maxBodyBytes = $1 },
        int("server.sse_keepalive_seconds", min: 0, max: 3600) { $0.server.sseKeepaliveSeconds = $1 },
        int("server.max_stream_seconds", min: 0) { $0.server.maxStreamSeconds = $1 },
        int("server.max_stream_bytes", min: 0) { $0.server.maxStreamBytes = $1 },
        int("server.idle_timeout_seconds", min: 1, max: 3600) { $0.server.idleTimeoutSeconds = $1 },
        int("server.request_read_seconds", min: 1, max: 3600) { $0.server.requestReadSeconds = $1 },
        int("server.max_header_bytes", min: 1024, max: 1 << 20) { $0.server.maxHeaderBytes = $1 },
        int("server.max_connections", min: 1) { $0.server.maxConnections = $1 },
        int("server.drain_seconds", min: 0, max: 3600) { $0.server.drainSeconds = $1 },
        int("server.unready_seconds", min: 0, max: 600) { $0.server.unreadySeconds = $1 },
        string("database.path") { $0.database.path = $1 },
        string("database.url") { $0.database.url = $1 },
        string("database.migrations_dir") { $0.database.migrationsDir = $1 },
        string("redis.url") { $0.redis.url = $1 },
        int("redis.pool_size", min: 1, max: 64) { $0.redis.poolSize = $1 },
        int("redis.timeout_millis", min: 10, max: 60_000) { $0.redis.timeoutMillis = $1 },
        string("redis.key_prefix") { $0.redis.keyPrefix = $1 },
        int("redis.hold_lease_seconds", min: 1) { $0.redis.holdLeaseSeconds = $1 },
        string("providers.dir") { $0.providers.dir = $1 },
        int("responses.retention_hours", min: 0, max: 8760) { $0.responses.retentionHours = $1 },
        string("security.encryption_key") { $0.security.encryptionKey = $1 },
        string("security.encryption_key_file") { $0.security.encryptionKeyFile = $1 },
        int("security.encryption_key_version", min: 1) { $0.security.encryptionKeyVersion = $1 },
        Key(path: "billing.credits_per_usd") { config, value, source in
            guard let credits = Credits(decimal: value), credits > .zero else {
                throw Error(description: "\(source): billing.credits_per_usd must be a positive decimal, got \(value)")
            }
            config.billing.creditsPerUSD = credits
        },
        int("upstream.connect_timeout_seconds", min: 1) { $0.upstream.connectTimeoutSeconds = $1 },
        int("upstream.head_timeout_seconds", min: 1) { $0.upstream.headTimeoutSeconds = $1 },
        int("upstream.read_timeout_seconds", min: 1) { $0.upstream.readTimeoutSeconds = $1 },
        int("upstream.max_attempts", min: 1, max: 10) { $0.upstream.maxAttempts = $1 },
        int("upstream.max_response_bytes", min: 1024) { $0.upstream.maxResponseBytes = $1 },
        int("auth.key_cache_ttl_millis", max: 60_000) { $0.auth.keyCacheTTLMillis = $1 },
        int("auth.key_cache_size", min: 1) { $0.auth.keyCacheSize = $1 },
        Key(path: "auth.jwt_secret") { config, value, source in
            guard value.isEmpty || value.utf8.count >= 32 else {
                throw Error(description: "\(source): auth.jwt_secret must be empty (a random key per start) or at least 32 bytes")
            }
            config.auth.jwtSecret = value
        },
        string("auth.jwt_issuer") { $0.auth.jwtIssuer = $1 },
        string("auth.jwt_audience") { $0.auth.jwtAudience = $1 },
        int("auth.access_token_ttl_seconds", min: 60, max: 86_400) { $0.auth.accessTokenTTLSeconds = $1 },
        int("auth.refresh_token_ttl_days", min: 1, max: 365) { $0.auth.refreshTokenTTLDays = $1 },
        int("auth.bcrypt_cost", min: 12, max: 31) { $0.auth.bcryptCost = $1 },
        bool("auth.allow_registration") { $0.auth.allowRegistration = $1 },
        int("auth.login_attempts_per_ip_per_minute", min: 1) { $0.auth.loginAttemptsPerIPPerMinute = $1 },
        int("auth.login_failures_per_account_per_15_minutes", min: 1) { $0.auth.loginFailuresPerAccountPer15Minutes = $1 },
        bool("auth.require_admin_two_factor") { $0.auth.requireAdminTwoFactor = $1 },
        int("accounts.refresh_seconds", min: 1) { $0.accounts.refreshSeconds = $1 },
        int("accounts.sticky_grace_seconds", min: 0) { $0.accounts.stickyGraceSeconds = $1 },
        int("accounts.sticky_ttl_seconds", min: 1) { $0.accounts.stickyTTLSeconds = $1 },
        int("accounts.wait_for_cooldown_millis", min: 0, max: 60_000) { $0.accounts.waitForCooldownMillis = $1 },
        int("accounts.queue_timeout_millis", min: 0, max: 600_000) { $0.accounts.queueTimeoutMillis = $1 },
        int("accounts.max_queued_requests", min: 0) { $0.accounts.maxQueuedRequests = $1 },
        int("accounts.contributor_bonus_percent", min: 0, max: 1000) { $0.accounts.contributorBonusPercent = $1 },
        int("accounts.trust_bonus_percent_per_level", min: 0, max: 1000) { $0.accounts.trustBonusPercentPerLevel = $1 },
        int("accounts.oauth_refresh_ahead_seconds", min: 0, max: 86_400) { $0.accounts.oauthRefreshAheadSeconds = $1 },
        int("settlement.queue_capacity", min: 1) { $0.settlement.queueCapacity = $1 },
        int("settlement.batch_size", min: 1) { $0.settlement.batchSize = $1 },
        int("settlement.gather_millis", min: 0, max: 1000) { $0.settlement.gatherMillis = $1 },
        int("settlement.checkpoint_millis", min: 100, max: 10_000) { $0.settlement.checkpointMillis = $1 },
        int("settlement.checkpoint_lease_seconds", min: 2, max: 3600) { $0.settlement.checkpointLeaseSeconds = $1 },
        Key(path: "logging.level") { config, value, source in
            guard ["trace", "debug", "info", "notice", "warning", "error", "critical"].contains(value) else {
                throw Error(description: "\(source): logging.level must be trace, debug, info, notice, warning, error or critical")
            }
            config.logging.level = value
        },
        Key(path: "logging.format") { config, value, source in
            guard ["text", "json"].contains(value) else { throw Error(description: "\(source): logging.format must be text or json") }
            config.logging.format = value
        },
        bool("logging.access_log") { $0.logging.accessLog = $1 },
        bool("metrics.enabled") { $0.metrics.enabled = $1 },
        string("metrics.bearer_token") { $0.metrics.bearerToken = $1 },
    ] + SluiceConfig.Plan.names.flatMap(planKeys) + paymentKeys + webhookKeys + tracingKeys + corsKeys + externalIdentityKeys + signInKeys + fileKeys
}
