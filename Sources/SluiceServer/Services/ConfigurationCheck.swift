import Foundation
import SluiceProviders
import SluiceStore

/// The provider manifests, with the model aliases checked against what they offer.
func loadCatalog(_ config: SluiceConfig, extraProviders: [ProviderManifest] = []) throws -> ProviderCatalog {
    guard let providersDir = ResourceLocator.find("Providers", configured: config.providers.dir) else {
        throw StartupError("cannot find the Providers directory; set providers.dir")
    }
    var catalog = try ProviderCatalog.load(directory: providersDir)
    for manifest in extraProviders { catalog = try catalog.adding(manifest) }
    if let problem = config.models.aliases.problem(offered: Set(catalog.providers.values.flatMap { $0.models.map(\.id) })) {
        throw StartupError(problem)
    }
    return catalog
}

func checkSettlement(_ settlement: SluiceConfig.Settlement) throws {
    guard settlement.checkpointLeaseSeconds * 1000 >= 2 * settlement.checkpointMillis else {
        throw StartupError("settlement.checkpoint_lease_seconds must be at least twice settlement.checkpoint_millis")
    }
}

/// What production refuses: a demo, and secrets left to chance (a random per-process token key
/// signs everyone out at each restart and splits instances; the loader already refuses a
/// missing encryption key everywhere).
public func checkEnvironment(_ config: SluiceConfig, demo: Bool = false) throws {
    guard config.environment == .production else { return }
    if demo { throw StartupError("environment is production: the demo (a fake upstream and a seeded user) is refused") }
    guard config.auth.jwtSecret.utf8.count >= 32 else {
        throw StartupError(
            "environment is production: set auth.jwt_secret (SLUICE_AUTH_JWT_SECRET) to at least 32 random characters, e.g. `openssl rand -base64 48`")
    }
    guard !config.security.encryptionKey.isEmpty else {
        throw StartupError("environment is production: set security.encryption_key (SLUICE_SECURITY_ENCRYPTION_KEY or security.encryption_key_file)")
    }
}

/// What `sluice config check` checks: everything `serve` checks before it opens the database.
/// Returns a line per check passed, and warnings; throws the first problem.
public func checkConfiguration(_ config: SluiceConfig) throws -> [String] {
    var lines: [String] = []
    try checkEnvironment(config)
    lines.append("environment: \(config.environment.rawValue)" + (config.serveAPIDocs ? "" : ", /docs and /openapi.json off"))
    let catalog = try loadCatalog(config)
    lines.append("providers: \(catalog.providers.count) manifests, \(catalog.providers.values.reduce(0) { $0 + $1.models.count }) models")
    _ = try makeSecretBox(config.security)
    lines.append("security: encryption key version \(config.security.encryptionKeyVersion) is usable")
    guard ResourceLocator.find("Migrations", configured: config.database.migrationsDir) != nil else {
        throw StartupError("cannot find the Migrations directory; set database.migrations_dir")
    }
    if config.database.url.isEmpty {
        lines.append("database: SQLite at \(config.database.path)")
    } else {
        guard PostgresStore.isPostgresURL(config.database.url) else {
            throw StartupError("database.url must be a postgres:// URL, or empty for the SQLite file at database.path")
        }
        lines.append("database: PostgreSQL" + (config.redis.url.isEmpty ? "; warning: without redis.url, instances do not share holds" : ""))
    }
    try checkSettlement(config.settlement)
    if config.payments.stripe.enabled {
        guard !config.payments.stripe.webhookSecrets.isEmpty else { throw StartupError("payments.stripe.webhook_secret is required with secret_key") }
        lines.append("payments: Stripe, \(config.payments.stripe.packs.count) packs")
    }
    if config.auth.jwtSecret.isEmpty { lines.append("warning: auth.jwt_secret is empty: sign-ins end at each restart and are not shared by instances") }
    return lines
}
