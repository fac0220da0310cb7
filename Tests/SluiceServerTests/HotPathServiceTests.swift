import Foundation
import Logging
import SluiceCore
import SluiceServer
import SluiceStore
import SluiceTestSupport
import Synchronization
import Testing

/// The real SQLite store, counting the calls the hot-path services make to it.
final class CountingStore: APIKeyStore, LedgerStore {
    let inner: SQLiteStore
    /// Added to every key read, so concurrent requests overlap one read in progress.
    let keyReadDelay: Duration
    private let counts = Mutex((keyReads: 0, settlementBatches: [Int]()))

    init(keyReadDelay: Duration = .zero) async throws {
        let path = NSTemporaryDirectory() + "sluice-hotpath-\(UUID().uuidString)/db.sqlite"
        let migrations = try MigrationRunner.load(directory: Harness.repoRoot.appendingPathComponent("Migrations/sqlite").path)
        inner = try await SQLiteStore(path: path, migrations: migrations, logger: Logger(label: "test"))
        self.keyReadDelay = keyReadDelay
    }

    var keyReads: Int { counts.withLock { $0.keyReads } }
    var settlementBatches: [Int] { counts.withLock { $0.settlementBatches } }

    func createAPIKey(userID: Int64, name: String, keyHash: String, prefix: String, limits: APIKeyLimits) async throws -> Int64 {
        try await inner.createAPIKey(userID: userID, name: name, keyHash: keyHash, prefix: prefix, limits: limits)
    }
    func apiKey(hash: String) async throws -> APIKeyRecord? {
        counts.withLock { $0.keyReads += 1 }
        try await Task.sleep(for: keyReadDelay)
        return try await inner.apiKey(hash: hash)
    }
    func apiKeys(userID: Int64) async throws -> [APIKeyRecord] { try await inner.apiKeys(userID: userID) }
    func revokeAPIKey(id: Int64, userID: Int64?) async throws -> String? { try await inner.revokeAPIKey(id: id, userID: userID) }
    func keySpendRemaining(keyID: Int64) async throws -> Credits? { try await inner.keySpendRemaining(keyID: keyID) }
    func balance(userID: Int64) async throws -> Credits? { try await inner.balance(userID: userID) }
    func credit(userID: Int64, amount: Credits, kind: LedgerKind, referenceID: String, note: String?) async throws -> LedgerEntry {
        try await inner.credit(userID: userID, amount: amount, kind: kind, referenceID: referenceID, note: note)
    }
    func recordSettlements(_ records: [UsageRecord]) async throws -> [PersistedCharge] {
        counts.withLock { $0.settlementBatches.append(records.count) }
        return try await inner.recordSettlements(records)
    }
    func ledger(userID: Int64) async throws -> [LedgerEntry] { try await inner.ledger(userID: userID) }
    func ledgerEntry(referenceID: String) async throws -> LedgerEntry? { try await inner.ledgerEntry(referenceID: referenceID) }
    func usageLogs(userID: Int64) async throws -> [UsageRecord] { try await inner.usageLogs(userID: userID) }
}

@Suite struct KeyCacheTests {
    @Test func concurrentRequestsShareOneStoreReadPerExpiry() async throws {
        let store = try await CountingStore(keyReadDelay: .milliseconds(100))
        let user = try await store.inner.createUser(email: "a@example.com", initialCredits: Credits(whole: 1))
        let key = try await APIKeyIssuer.issue(store: store, userID: user, name: "k").key
        let clock = ManualClock()
        let authenticator = KeyAuthenticator(store: store, ttl: .seconds(1), capacity: 100, clock: clock)

        func burst() async throws -> [Int64] {
            try await withThrowingTaskGroup(of: Int64.self) { group in
                for _ in 0..<50 { group.addTask { try await authenticator.authenticate(authorization: "Bearer \(key)").userID } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        #expect(try await burst() == Array(repeating: user, count: 50))
        #expect(store.keyReads == 1)
        clock.advance(by: 0.9)
        #expect(try await burst().count == 50)
        #expect(store.keyReads == 1, "within the TTL the cache answers")
        clock.advance(by: 0.2)  // past the TTL: the next burst reads once more
        #expect(try await burst().count == 50)
        #expect(store.keyReads == 2)
    }

    @Test func unknownKeysAreSingleFlightedAndRefusedToo() async throws {
        let store = try await CountingStore(keyReadDelay: .milliseconds(100))
        let authenticator = KeyAuthenticator(store: store, ttl: .seconds(60), capacity: 100)
        let refusals = await withTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    do { _ = try await authenticator.authenticate(authorization: "Bearer sk-sluice-nope"); return false } catch {
                        return (error as? GatewayError)?.code == GatewayError.invalidAPIKey.code
                    }
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(refusals == 20)
        #expect(store.keyReads == 1)
    }
}

@Suite struct SettlementGroupCommitTests {
    func writer(_ store: CountingStore, batchSize: Int, gather: Duration) -> SettlementWriter {
        SettlementWriter(
            store: store, credits: CreditBook { try await store.balance(userID: $0) }, capacity: 1000, batchSize: batchSize,
            gatherWindow: gather, logger: Logger(label: "test"))
    }

    func records(_ count: Int, user: Int64, key: Int64) -> [UsageRecord] {
        (0..<count).map { i in
            UsageRecord(
                requestID: "req-\(UUID().uuidString)-\(i)", userID: user, apiKeyID: key, model: "m", provider: "p", accountID: nil,
                usage: TokenUsage(promptTokens: 1, completionTokens: 1), charged: Credits(micros: 10), costEstimated: false,
                latencyMs: 1, ttftMs: nil, status: 200, endReason: "completed", stream: false)
        }
    }

    /// A fresh store with one user, and a writer running over it while `body` runs.
    func withRunningWriter(
        batchSize: Int, gather: Duration, _ body: (SettlementWriter, CountingStore, Int64, _ records: (Int) -> [UsageRecord]) async throws -> Void
    ) async throws {
        let store = try await CountingStore()
        let user = try await store.inner.createUser(email: "a@example.com", initialCredits: Credits(whole: 1))
        let key = try await APIKeyIssuer.issue(store: store, userID: user, name: "k")
        let writer = writer(store, batchSize: batchSize, gather: gather)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await writer.run() }
            try await body(writer, store, user) { records($0, user: user, key: key.id) }
            group.cancelAll()
        }
    }

    @Test func aTrickleOfSettlesSharesOneTransaction() async throws {
        try await withRunningWriter(batchSize: 100, gather: .seconds(1)) { writer, store, user, records in
            // The writer may wake at the first; the window holds the transaction for the rest.
            records(5).forEach(writer.enqueue)
            try await eventually("the five settles are written") {
                try await store.balance(userID: user) == Credits(whole: 1) - Credits(micros: 50)
            }
            #expect(store.settlementBatches == [5])
        }
    }

    @Test func aFullBatchAndAFlushDoNotWaitForTheWindow() async throws {
        // A window far longer than the checks below wait: only a full batch or a flush can write.
        try await withRunningWriter(batchSize: 4, gather: .seconds(120)) { writer, store, _, records in
            records(4).forEach(writer.enqueue)
            try await eventually("a full batch is written at once", within: 5) { store.settlementBatches == [4] }
            records(1).forEach(writer.enqueue)
            await writer.flush()
            #expect(store.settlementBatches == [4, 1])
        }
    }
}
