import AsyncHTTPClient
import Foundation
import NIOCore
import SluiceCore
import SluiceMockUpstream
import SluiceRedis
import SluiceServer
import SluiceStore
import SluiceTestSupport
import Testing

/// Streams relaying when their instance is killed with SIGKILL are still charged by the charging
/// rule (issue 33): after a restart on either store, or by the other instance of two. Runs in the
/// first pass of `scripts/test`, which starts PostgreSQL and Redis.
@Suite(.enabled(if: TestPostgres.baseURL != nil && TestRedis.url != nil && !TestPostgres.serverTestsUsePostgres), .serialized)
struct CrashRecoveryTests {
    enum Backend: String, CaseIterable, Sendable { case sqlite, postgres }

    struct Setup: Sendable {
        var fixture: ProcessFixture
        /// The Redis key prefix, where the instances keep their holds.
        var prefix: String
        var userID: Int64
        var key: String
        var seed: Gateway { fixture.seed }
        var control: MockControl { fixture.control }
        static let balance = Credits(whole: 10)

        func start(_ name: String) async throws -> GatewayProcess { try await fixture.start(name) }
    }

    /// After a restart on the same store, the killed instance's three streams are each charged
    /// their estimate once, and the ledger balances.
    @Test(arguments: Backend.allCases)
    func streamsOfAKilledInstanceAreChargedAfterARestart(_ backend: Backend) async throws {
        try await withSetup(backend, redis: false) { setup in
            let first = try await setup.start("first")
            try await withStreams(3, to: first, setup) { first.kill() }
            #expect(try await setup.seed.store.usageLogs(userID: setup.userID).isEmpty, "nothing settled before the restart")
            let restarted = try await setup.start("restarted")
            let outcome = await Result { try await expectLostStreamsCharged(3, setup) }
            await restarted.stop()
            try outcome.get()
        }
    }

    /// Two instances on PostgreSQL and Redis: the survivor settles the dead one's streams once
    /// its lease lapses, and releases every hold it left in Redis, that of a request still
    /// waiting for its first byte too.
    @Test func theOtherInstanceSettlesADeadInstancesStreamsAndReleasesItsHolds() async throws {
        try await withSetup(.postgres, redis: true) { setup in
            let survivor = try await setup.start("survivor")
            let outcome = await Result {
                let doomed = try await setup.start("doomed")
                setup.control.script([.endless(intervalMillis: 50), .endless(intervalMillis: 50), .endless(intervalMillis: 50), .hang], for: "a")
                try await withStreams(3, to: doomed, setup, alsoWaiting: 1) { doomed.kill() }
                try await expectLostStreamsCharged(3, setup, free: 1)
            }
            await survivor.stop()
            try outcome.get()
            let holds = RedisCreditHolds(
                redis: try TestRedis.client(connections: 1), prefix: "\(setup.prefix):credits"
            ) { [store = setup.seed.store] in try await store.balance(userID: $0) }
            let stored = try #require(try await setup.seed.store.balance(userID: setup.userID))
            #expect(try await holds.available(userID: setup.userID) == stored, "the dead instance's holds are released")
        }
    }

    /// Opens `count` streams (and `waiting` requests that get no byte) through `gateway`, waits
    /// until each stream relayed output and was checkpointed, then runs `kill`.
    func withStreams(_ count: Int, to gateway: GatewayProcess, _ setup: Setup, alsoWaiting waiting: Int = 0, kill: () -> Void) async throws {
        let baseURL = gateway.baseURL
        let key = setup.key
        try await withThrowingTaskGroup(of: Void.self) { group in
            let (relayed, relay) = AsyncStream.makeStream(of: Void.self)
            for _ in 0..<count {
                group.addTask { try await Self.stream(baseURL, key: key, onFirstChunk: { relay.yield() }) }
                // One at a time, so the mock's script gives each its behaviour in order.
                var iterator = relayed.makeAsyncIterator()
                _ = await iterator.next()
            }
            for _ in 0..<waiting {
                group.addTask { try await Self.stream(baseURL, key: key, onFirstChunk: {}) }
            }
            // A few checkpoints (every 200 ms here) pass while output flows.
            try await Task.sleep(for: .milliseconds(800))
            kill()
            group.cancelAll()
            while (try? await group.next()) != nil {}
        }
    }

    func expectLostStreamsCharged(_ count: Int, _ setup: Setup, free: Int = 0) async throws {
        let store = setup.seed.store
        try await eventually("the lost requests are settled", within: 20) {
            try await store.usageLogs(userID: setup.userID).count == count + free
        }
        let rows = try await store.usageLogs(userID: setup.userID)
        #expect(rows.allSatisfy { $0.endReason == "instance_lost" && $0.stream }, "\(rows.map(\.endReason))")
        let charged = rows.filter { $0.charged > .zero }
        #expect(charged.count == count)
        #expect(charged.allSatisfy { $0.costEstimated && $0.usage.completionTokens > 0 && $0.usage.promptTokens > 0 })
        // Settled once: another round of claims charges nothing more.
        try await Task.sleep(for: .seconds(3))
        let total = try await store.usageLogs(userID: setup.userID).reduce(Int64(0)) { $0 + $1.charged.micros }
        let consumed = try await store.ledger(userID: setup.userID).filter { $0.kind == .consume }
        #expect(consumed.count == count)
        #expect(consumed.reduce(Int64(0)) { $0 - $1.amount.micros } == total)
        #expect(try await store.balance(userID: setup.userID) == Credits(micros: Setup.balance.micros - total))
    }

    func withSetup(_ backend: Backend, redis: Bool, _ body: (Setup) async throws -> Void) async throws {
        let prefix = "crash_\(UUID().uuidString.prefix(8))"
        let databaseURL = backend == .postgres ? try await TestPostgres.freshSchemaURL() : nil
        try await ProcessFixture.with("crash", configuration: { directory in
            """
            server:
              host: 127.0.0.1
            database:
              \(databaseURL.map { #"url: "\#($0)""# } ?? #"path: "\#(directory)/sluice.sqlite""#)
              migrations_dir: "\(Harness.repoRoot.appendingPathComponent("Migrations").path)"
            redis:
              url: "\(redis ? TestRedis.url ?? "" : "")"
              key_prefix: \(prefix)
            providers:
              dir: "\(directory)/providers"
            settlement:
              checkpoint_millis: 200
              checkpoint_lease_seconds: 2
            logging:
              level: warning
            plans:
            \(ProcessFixture.plansWithoutGrants)
            """
        }) { fixture in
            fixture.control.set(.endless(intervalMillis: 50), for: "a")
            let user = try await fixture.seed.store.createUser(email: "crash@test", initialCredits: Setup.balance)
            let key = try await APIKeyIssuer.issue(store: fixture.seed.store, userID: user, name: "k").key
            try await body(Setup(fixture: fixture, prefix: prefix, userID: user, key: key))
        }
    }

    /// Streams a chat answer until the connection ends, calling `onFirstChunk` once output arrives.
    static func stream(_ baseURL: String, key: String, onFirstChunk: @Sendable () -> Void) async throws {
        var request = HTTPClientRequest(url: baseURL + "/v1/chat/completions")
        request.method = .POST
        request.headers.add(name: "authorization", value: "Bearer \(key)")
        request.headers.add(name: "content-type", value: "application/json")
        request.body = .bytes(ByteBuffer(string: Harness.chatBody(stream: true, extra: #","max_tokens":500"#)))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        var announced = false
        for try await chunk in response.body {
            if !announced, String(buffer: chunk).contains("\"content\"") {
                announced = true
                onFirstChunk()
            }
        }
    }
}
