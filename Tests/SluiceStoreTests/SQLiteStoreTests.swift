import Foundation
import Logging
import SluiceCore
import Testing
@testable import SluiceStore
import GRDB

/// Paths into the repository, so tests use the real migrations.
enum Repo {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let sqliteMigrations = root.appendingPathComponent("Migrations/sqlite").path
}

func temporaryDatabasePath() -> String {
    NSTemporaryDirectory() + "sluice-store-test-\(UUID().uuidString)/db.sqlite"
}

func openStore(_ path: String = temporaryDatabasePath()) async throws -> SQLiteStore {
    try await SQLiteStore(path: path, migrations: try MigrationRunner.load(directory: Repo.sqliteMigrations), logger: Logger(label: "test"))
}

func usage(_ requestID: String, user: Int64, key: Int64, charged: Int64) -> UsageRecord {
    UsageRecord(
        requestID: requestID, userID: user, apiKeyID: key, model: "m", provider: "p", accountID: nil,
        usage: TokenUsage(promptTokens: 10, completionTokens: 5), charged: Credits(micros: charged), costEstimated: false,
        latencyMs: 3, ttftMs: 1, status: 200, endReason: "completed", stream: false)
}

@Suite struct MigrationRunnerTests {
    @Test func appliesOnceAndIsANoOpOnRestart() async throws {
        let path = temporaryDatabasePath()
        let store = try await openStore(path)
        let runner = try MigrationRunner.load(directory: Repo.sqliteMigrations)
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
        let all = try MigrationRunner.load(directory: Repo.sqliteMigrations).migrations
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

@Suite struct AccountSecretTests {
    @Test func rotationsDeriveFromTheStoredSecretSoNoneIsLost() async throws {
        let store = try await openStore()
        let box = try SecretBox(keys: [1: Data(repeating: 3, count: 32)], activeVersion: 1)
        let id = try await store.addAccount(
            provider: "p", kind: .cookie, baseURL: nil, models: [], priority: 0, weight: 1, ownerUserID: nil, secret: try box.seal("a=0"))
        // Twenty rotations at once, each adding its own cookie: every one lands.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 1...20 {
                group.addTask {
                    _ = try await store.rotateAccountSecret(id: id) { stored in try box.seal(try box.open(stored.sealed) + "; c\(n)=1") }
                }
            }
            try await group.waitForAll()
        }
        let record = try #require(try await store.account(id: id))
        let cookies = Set(try box.open(record.secret).split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) })
        #expect(cookies == Set(["a=0"] + (1...20).map { "c\($0)=1" }))
        #expect(record.secretGeneration == 20)
        // A change that returns nil writes nothing; an owner's new secret counts as a generation too.
        #expect(try await store.rotateAccountSecret(id: id) { _ in nil }?.generation == 20)
        try await store.updateAccountSecret(id: id, try box.seal("fresh=1"))
        #expect(try await store.account(id: id)?.secretGeneration == 21)
        #expect(try await store.rotateAccountSecret(id: id + 1) { _ in nil } == nil)
    }
}

@Suite struct LedgerStoreTests {
    @Test func creditIsIdempotentByReference() async throws {
        let store = try await openStore()
        let user = try await store.createUser(email: "a@x", initialCredits: .zero)
        let first = try await store.credit(userID: user, amount: Credits(whole: 5), kind: .grant, referenceID: "g1", note: nil)
        let again = try await store.credit(userID: user, amount: Credits(whole: 5), kind: .grant, referenceID: "g1", note: nil)
        #expect(first == again)
        #expect(try await store.balance(userID: user) == Credits(whole: 5))
    }

    @Test func settlementsAreWrittenOnceEvenWhenReplayed() async throws {
        let store = try await openStore()
        let user = try await store.createUser(email: "a@x", initialCredits: Credits(micros: 1_000))
        let key = try await store.createAPIKey(userID: user, name: "k", keyHash: "h", prefix: "p", limits: APIKeyLimits())
        let batch = [usage("r1", user: user, key: key, charged: 100), usage("r2", user: user, key: key, charged: 0)]
        let charges = try await store.recordSettlements(batch)
        #expect(charges == [PersistedCharge(
            userID: user, apiKeyID: key, charged: Credits(micros: 100), balanceAfter: Credits(micros: 900), keySpendRemaining: nil)])
        #expect(try await store.recordSettlements(batch).isEmpty)
        #expect(try await store.balance(userID: user) == Credits(micros: 900))
        #expect(try await store.usageLogs(userID: user).count == 2)
    }

    @Test func ledgerBalancesAndUsageMatchesConsumeEntries() async throws {
        let store = try await openStore()
        let user = try await store.createUser(email: "a@x", initialCredits: Credits(micros: 10_000))
        let key = try await store.createAPIKey(userID: user, name: "k", keyHash: "h", prefix: "p", limits: APIKeyLimits())
        _ = try await store.recordSettlements((0..<20).map { usage("r\($0)", user: user, key: key, charged: Int64($0 * 7)) })
        _ = try await store.credit(userID: user, amount: Credits(micros: 333), kind: .grant, referenceID: "g", note: nil)
        let ledger = try await store.ledger(userID: user)
        var running: Int64 = 0
        for entry in ledger {
            #expect(entry.balanceBefore.micros == running)
            running += entry.amount.micros
            #expect(entry.balanceAfter.micros == running)
        }
        #expect(try await store.balance(userID: user)?.micros == running)
        let consumed = ledger.filter { $0.kind == .consume }.reduce(Int64(0)) { $0 - $1.amount.micros }
        let logged = try await store.usageLogs(userID: user).reduce(Int64(0)) { $0 + $1.charged.micros }
        #expect(consumed == logged)
    }

    @Test func apiKeyLookupJoinsUserStatusAndRevocation() async throws {
        let store = try await openStore()
        let user = try await store.createUser(email: "a@x", initialCredits: .zero)
        let id = try await store.createAPIKey(userID: user, name: "k", keyHash: "abc", prefix: "sk-", limits: APIKeyLimits(allowedModels: ["m"]))
        #expect(try await store.apiKey(hash: "abc")?.limits.allowedModels == ["m"])
        try await store.setUserStatus(id: user, .disabled)
        #expect(try await store.revokeAPIKey(id: id, userID: user + 1) == nil)
        #expect(try await store.revokeAPIKey(id: id, userID: user) == "abc")
        let record = try #require(try await store.apiKey(hash: "abc"))
        #expect(record.userStatus == .disabled)
        #expect(!record.isUsable(at: Date()))
        #expect(try await store.apiKey(hash: "nope") == nil)
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
