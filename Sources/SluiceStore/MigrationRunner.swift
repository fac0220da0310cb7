import Foundation
import GRDB
import Logging

/// Applies `Migrations/<dialect>/NNNN_name.sql` in order, each once, each inside a transaction,
/// and records it in `schema_migrations`. Running it again is a no-op.
public struct MigrationRunner: Sendable {
    public struct Migration: Sendable, Equatable {
        public var version: Int
        public var name: String
        public var sql: String
    }

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
            let didApply = try await writer.write { db -> Bool in
                let done = try Bool.fetchOne(
                    db, sql: "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = ?)",
                    arguments: [migration.version]) ?? false
                guard !done else { return false }
                try db.execute(sql: migration.sql)
                try db.execute(
                    sql: "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    arguments: [migration.version, migration.name, Date().unixMillis])
                return true
            }
            if didApply {
                applied.append(migration.version)
                logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
            }
        }
        return applied
    }
}
