import Foundation
import GRDB
import Logging
import SluiceCore

/// The embedded store: one SQLite file in WAL mode. Reads run on a pool of connections in
/// parallel; writes are serialized by GRDB, each inside a transaction.
public final class SQLiteStore: GatewayStore {
    let pool: DatabasePool

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

    public func ping() async throws {
        _ = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT 1") }
    }

    // MARK: Upstream accounts

    public func addAccount(
        provider: String, kind: AccountKind, baseURL: String?, models: [String], priority: Int, weight: Int,
        ownerUserID: Int64?, secret: SealedSecret
    ) async throws -> Int64 {
        let modelsJSON = String(decoding: try JSONEncoder().encode(models), as: UTF8.self)
        return try await pool.write { db in
            let now = Date().unixMillis
            try db.execute(
                sql: """
                    INSERT INTO upstream_accounts (provider, kind, base_url, models, priority, weight, owner_user_id,
                        secret_ciphertext, secret_key_version, created_at, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [provider, kind.rawValue, baseURL, modelsJSON, priority, weight, ownerUserID,
                            secret.ciphertext, secret.keyVersion, now, now])
            return db.lastInsertedRowID
        }
    }

    public func enabledAccounts() async throws -> [AccountRecord] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM upstream_accounts WHERE enabled = 1 ORDER BY id").compactMap { row in
                guard let kind = AccountKind(rawValue: row["kind"]) else { return nil }
                let models: String = row["models"]
                return AccountRecord(
                    id: row["id"], provider: row["provider"], kind: kind, baseURL: row["base_url"],
                    models: (try? JSONDecoder().decode([String].self, from: Data(models.utf8))) ?? [],
                    priority: row["priority"], weight: row["weight"], ownerUserID: row["owner_user_id"],
                    secret: SealedSecret(ciphertext: row["secret_ciphertext"], keyVersion: row["secret_key_version"]),
                    enabled: row["enabled"], needsReauth: row["needs_reauth"])
            }
        }
    }

    public func updateAccountSecret(id: Int64, _ secret: SealedSecret) async throws {
        try await pool.write { db in
            try db.execute(
                sql: """
                    UPDATE upstream_accounts SET secret_ciphertext = ?, secret_key_version = ?, needs_reauth = 0, updated_at = ?
                    WHERE id = ?
                    """,
                arguments: [secret.ciphertext, secret.keyVersion, Date().unixMillis, id])
        }
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
