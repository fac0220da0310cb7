import Foundation
import Logging
import ServiceLifecycle
import SluiceStore

/// Opens the store `database` names, applying pending migrations: PostgreSQL when `url` is a
/// `postgres://` URL, else the SQLite file at `path`.
public func openStore(_ database: SluiceConfig.Database, logger: Logger) async throws -> any GatewayStore {
    guard let migrations = ResourceLocator.find("Migrations", configured: database.migrationsDir) else {
        throw StartupError("cannot find the Migrations directory; set database.migrations_dir")
    }
    if database.url.isEmpty {
        return try await SQLiteStore(
            path: database.path, migrations: try MigrationRunner.load(directory: migrations + "/sqlite"), logger: logger)
    }
    guard PostgresStore.isPostgresURL(database.url) else {
        throw StartupError("database.url must be a postgres:// URL, or empty for the SQLite file at database.path")
    }
    return try await PostgresStore(
        configuration: try PostgresStore.configuration(url: database.url),
        migrations: try MigrationRunner.load(directory: migrations + "/postgres"), logger: logger)
}

/// Closes the store when the application shuts down. It is the first service, so it stops
/// last: after the settlement writer has written every queued charge through it.
struct StoreService: Service {
    let store: any GatewayStore

    func run() async throws {
        try? await gracefulShutdown()
        await store.close()
    }
}
