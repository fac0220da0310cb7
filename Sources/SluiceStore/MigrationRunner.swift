import Foundation
import GRDB
import Logging

/// Applies `Migrations/<dialect>/NNNN_name.sql` in order, each once, each inside a transaction,
/// and records it in `schema_migrations`. Running it again is a no-op.
///
/// A migration whose first line is `-- sluice: rebuilds tables` runs with foreign keys off, as
/// SQLite's procedure for changing a table's constraints requires (copy into a new table, drop the
/// old one, rename): with them on, dropping the old table would cascade to its children. Its
/// transaction commits only if `PRAGMA foreign_key_check` finds every reference intact.
public struct MigrationRunner: Sendable {
    public struct Migration: Sendable, Equatable {
        public var version: Int
        public var name: String
        public var sql: String

        public var rebuildsTables: Bool { sql.hasPrefix(MigrationRunner.rebuildMarker) }
    }

    static let rebuildMarker = "-- sluice: rebuilds tables"

    public struct Error: Swift.Error, CustomStringConvertible {
        public var description: String
    }

    public let migrations: [Migration]

    public init(migrations: [Migration]) { self.migrations = migrations.sorted { $0.version < $1.version } }

    /// Reads `NNNN_name.sql` files from `directory`. A file that does not follow the pattern, or two
    /// files with one number, is an error rather than something silently skipped.
    public static func load(directory: String) throws -> MigrationRunner {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".sql") }
        } catch {
            throw Error(description: "cannot read migrations directory \(directory)")
        }
        var migrations: [Migration] = []
        for file in files {
            let stem = file.dropLast(4)
            let parts = stem.split(separator: "_", maxSplits: 1)
            guard parts.count == 2, parts[0].count == 4, let version = Int(parts[0]) else {
                throw Error(description: "migration file \(file) is not named NNNN_name.sql")
            }
            guard !migrations.contains(where: { $0.version == version }) else {
                throw Error(description: "two migrations have the number \(parts[0])")
            }
            let path = (directory as NSString).appendingPathComponent(file)
            guard let sql = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw Error(description: "cannot read migration \(path)")
            }
            migrations.append(Migration(version: version, name: String(parts[1]), sql: sql))
        }
        return MigrationRunner(migrations: migrations)
    }

    /// Applies what is missing and returns the versions it applied.
    @discardableResult
    public func apply(to writer: any DatabaseWriter, logger: Logger) async throws -> [Int] {
        try await writer.write { db in
            try db.execute(sql: """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)
                """)
        }
        var applied: [Int] = []
        for migration in migrations {
            // One transaction per migration; the check inside it makes two racing processes safe.
            let didApply = migration.rebuildsTables
                ? try await applyWithoutForeignKeys(migration, to: writer)
                : try await writer.write { db in try Self.applyOnce(migration, db) }
            if didApply {
                applied.append(migration.version)
                logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
        }
        return applied
    }

    /// Runs `migration` unless `schema_migrations` already has it; inside the caller's transaction.
    private static func applyOnce(_ migration: Migration, _ db: Database) throws -> Bool {
        let done = try Bool.fetchOne(
            db, sql: "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)", arguments: [migration.version]) ?? false
        guard !done else { return false }
        try db.execute(sql: migration.sql)
        try db.execute(
            sql: "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            arguments: [migration.version, migration.name, Date().unixMillis])
        return true
    }

    /// `PRAGMA foreign_keys` has no effect inside a transaction, so it is switched off around one.
    private func applyWithoutForeignKeys(_ migration: Migration, to writer: any DatabaseWriter) async throws -> Bool {
        try await writer.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA foreign_keys = OFF")
            defer { try? db.execute(sql: "PRAGMA foreign_keys = ON") }
            var applied = false
            try db.inTransaction(.immediate) {
                applied = try Self.applyOnce(migration, db)
                if applied, let broken = try Row.fetchOne(db, sql: "PRAGMA foreign_key_check") {
                    throw Error(description: "migration \(migration.version) would leave a broken reference in \(broken[0] as String? ?? "?")")
                }
                return .commit
            }
            return applied
        }
    }
}
