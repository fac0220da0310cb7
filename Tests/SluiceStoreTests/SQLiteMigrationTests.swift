import Foundation
import Logging
import SluiceCore
import Testing
@testable import SluiceStore
import GRDB
import SluiceTestSupport

func temporaryDatabasePath() -> String {
    NSTemporaryDirectory() + "sluice-store-test-\(UUID().uuidString)/db.sqlite"
}

func openStore(_ path: String = temporaryDatabasePath()) async throws -> SQLiteStore {
    try await SQLiteStore(path: path, migrations: try MigrationRunner.load(directory: RepoPaths.sqliteMigrations), logger: Logger(label: "test"))
}

@Suite struct MigrationRunnerTests {
    @Test func appliesOnceAndIsANoOpOnRestart() async throws {
        let path = temporaryDatabasePath()
        let store = try await openStore(path)
        let runner = try MigrationRunner.load(directory: RepoPaths.sqliteMigrations)
        #expect(try await runner.apply(to: store.pool, logger: Logger(label: "test")).isEmpty)
        _ = try await openStore(path)
        let recorded = try await store.pool.read { db in try Int.fetchAll(db, sql: "SELECT version FROM schema_migrations") }
        #expect(recorded == runner.migrations.map(\.version))
    }

    @Test func badFileNamesAreRejected() throws {
        let dir = NSTemporaryDirectory() + "sluice-migrations-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "SELECT 1;".write(toFile: dir + "/1_short.sql", atomically: true, encoding: .utf8)
        #expect(throws: MigrationRunner.Error.self) { try MigrationRunner.load(directory: dir) }
    }

    @Test func aFailingMigrationLeavesNoTrace() async throws {
        let runner = MigrationRunner(migrations: [
            .init(version: 1, name: "ok", sql: "CREATE TABLE a (x INTEGER);"),
            .init(version: 2, name: "broken", sql: "CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);"),
        ])
        let pool = try DatabasePoolFactory.make(temporaryDatabasePath())
        await #expect(throws: (any Error).self) { try await runner.apply(to: pool, logger: Logger(label: "test")) }
        let tables = try await pool.read { db in try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name") }
        #expect(tables == ["a", "schema_migrations"])
    }
}

/// Migration 0006 rebuilds `upstream_accounts` to allow OAuth accounts.
@Suite struct AccountTableRebuildTests {
    @Test func rowsThatNameAccountsSurviveTheRebuildAndForeignKeysStayOn() async throws {
        let all = try MigrationRunner.load(directory: RepoPaths.sqliteMigrations).migrations
        let pool = try DatabasePoolFactory.make(temporaryDatabasePath())
        try await pool.write { db in try db.execute(sql: "PRAGMA foreign_keys = ON") }
        try await MigrationRunner(migrations: all.filter { $0.version < 6 }).apply(to: pool, logger: Logger(label: "test"))
        try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO users (id, email, created_at) VALUES (1, 'a@x', 0);
                INSERT INTO upstream_accounts (id, provider, kind, secret_ciphertext, secret_key_version, created_at, updated_at, share_mode)
                    VALUES (7, 'openai', 'cookie', x'00', 1, 0, 0, 'surplus');
                INSERT INTO account_cooldowns (account_id, model, cooling_until, reason, level) VALUES (7, '', 1, 'transient', 1);
                """)
        }
        #expect(all.first { $0.version == 6 }?.rebuildsTables == true)
        #expect(try await MigrationRunner(migrations: all).apply(to: pool, logger: Logger(label: "test")).contains(6))
        try await pool.write { db in
            #expect(try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM account_cooldowns WHERE account_id = 7") == 1)
            let row = try #require(try Row.fetchOne(db, sql: "SELECT kind, share_mode, secret_generation FROM upstream_accounts WHERE id = 7"))
            #expect(row["kind"] as String == "cookie" && row["share_mode"] as String == "surplus" && row["secret_generation"] as Int64 == 0)
            // The wider CHECK takes oauth, still refuses nonsense, and references are enforced again.
            try db.execute(sql: """
                INSERT INTO upstream_accounts (provider, kind, secret_ciphertext, secret_key_version, created_at, updated_at)
                VALUES ('openai', 'oauth', x'00', 1, 0, 0)
                """)
            #expect(throws: (any Error).self) {
                try db.execute(sql: """
                    INSERT INTO upstream_accounts (provider, kind, secret_ciphertext, secret_key_version, created_at, updated_at)
                    VALUES ('openai', 'magic', x'00', 1, 0, 0)
                    """)
            }
            #expect(throws: (any Error).self) {
                try db.execute(sql: "INSERT INTO account_cooldowns (account_id, cooling_until, reason, level) VALUES (999, 1, 'transient', 1)")
            }
        }
    }

    @Test func aRebuildThatBreaksAReferenceIsRolledBack() async throws {
        let runner = MigrationRunner(migrations: [
            .init(version: 1, name: "parent", sql: """
                CREATE TABLE parent (id INTEGER PRIMARY KEY);
                CREATE TABLE child (parent_id INTEGER REFERENCES parent (id));
                INSERT INTO parent VALUES (1); INSERT INTO child VALUES (1);
                """),
            .init(version: 2, name: "lossy", sql: MigrationRunner.rebuildMarker + """

                CREATE TABLE parent_new (id INTEGER PRIMARY KEY);
                DROP TABLE parent;
                ALTER TABLE parent_new RENAME TO parent;
                """),
        ])
        let pool = try DatabasePoolFactory.make(temporaryDatabasePath())
        await #expect(throws: MigrationRunner.Error.self) { try await runner.apply(to: pool, logger: Logger(label: "test")) }
        let (versions, parents) = try await pool.read { db in
            (try Int.fetchAll(db, sql: "SELECT version FROM schema_migrations"), try Int.fetchAll(db, sql: "SELECT id FROM parent"))
        }
        #expect(versions == [1] && parents == [1])
    }
}

@Suite struct SecretBoxTests {
    let key = Data(repeating: 7, count: 32)

    @Test func sealsAndOpensWithTheRightVersion() throws {
        let box = try SecretBox(keys: [1: key], activeVersion: 1)
        let sealed = try box.seal("sk-upstream-secret")
        #expect(!String(decoding: sealed.ciphertext, as: UTF8.self).contains("sk-upstream-secret"))
        #expect(try box.open(sealed) == "sk-upstream-secret")
        let rotated = try SecretBox(keys: [1: key, 2: Data(repeating: 9, count: 32)], activeVersion: 2)
        #expect(try rotated.open(sealed) == "sk-upstream-secret")
        #expect(try rotated.seal("x").keyVersion == 2)
    }

    @Test func wrongKeyFailsToOpen() throws {
        let sealed = try SecretBox(keys: [1: key], activeVersion: 1).seal("secret")
        let other = try SecretBox(keys: [1: Data(repeating: 1, count: 32)], activeVersion: 1)
        #expect(throws: (any Error).self) { try other.open(sealed) }
    }
}
