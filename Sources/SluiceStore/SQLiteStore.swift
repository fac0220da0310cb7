import Foundation
import GRDB
import Logging
import SluiceCore

/// The embedded store: one SQLite file in WAL mode. Reads run on a pool of connections in
/// parallel; writes are serialized by GRDB, each inside a transaction.
public final class SQLiteStore: GatewayStore {
    let pool: DatabasePool
    /// The webhook event types writes put in the outbox (see `WebhookStore`).
    let webhookFilter = WebhookEventFilter()

    /// Opens (creating if needed) the database at `path` and applies pending migrations.
    public init(path: String, migrations: MigrationRunner, logger: Logger) async throws {
        var config = Configuration()
        config.busyMode = .timeout(10)
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            // WAL with synchronous=NORMAL survives process crashes; a power loss may drop the last
            // commits, which holds and the ledger's reference ids tolerate.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        pool = try DatabasePool(path: path, configuration: config)
        try await migrations.apply(to: pool, logger: logger)
    }

    /// Copies the database to a new file at `path` with SQLite's online backup: a consistent copy
    /// while writers go on, page by page.
    public func backup(to path: String) async throws {
        let copy = try DatabaseQueue(path: path)
        try pool.backup(to: copy)
        try copy.close()
    }

    public func ping() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }
}

/// Opens a bare SQLite pool, for tools and tests that run migrations themselves.
public enum DatabasePoolFactory {
    public static func make(_ path: String) throws -> DatabasePool {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) }
        return try DatabasePool(path: path)
    }
}
