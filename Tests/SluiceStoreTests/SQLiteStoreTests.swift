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
