import AsyncHTTPClient
import Foundation
import Logging
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
        var directory: String
        var configPath: String
        var environment: [String: String]
        var seed: Gateway
        var control: MockControl
        var userID: Int64
        var key: String
        static let balance = Credits(whole: 10)

        func start(_ name: String) async throws -> GatewayProcess {
            try await GatewayProcess(
                configPath: configPath, port: try GatewayProcess.freePort(), environment: environment, logPath: "\(directory)/\(name).log")
        }
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
                redis: try TestRedis.client(connections: 1), prefix: "\(setup.environment["PREFIX"] ?? ""):credits"
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
        let directory = NSTemporaryDirectory() + "sluice-crash-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory + "/providers", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let control = MockControl()
        control.set(.endless(intervalMillis: 50), for: "a")
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await MockUpstream.application(control: control) { portSink.yield($0) }.run() }
            var iterator = ports.makeAsyncIterator()
            let mockPort = try #require(await iterator.next())
            try TwoInstanceTests.manifest(mockPort: mockPort).write(toFile: directory + "/providers/mock.json", atomically: true, encoding: .utf8)
            let prefix = "crash_\(UUID().uuidString.prefix(8))"
            let database = backend == .postgres ? #"url: "\#(try await TestPostgres.freshSchemaURL())""# : #"path: "\#(directory)/sluice.sqlite""#
            let configPath = directory + "/sluice.yaml"
            // No plan grants: the balance moves by the charges alone.
            let plans = SluiceConfig.Plan.names.map { "  \($0):\n    monthly_credits: \"0\"" }.joined(separator: "\n")
            try """
                server:
                  host: 127.0.0.1
                database:
                  \(database)
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
                \(plans)
                """.write(toFile: configPath, atomically: true, encoding: .utf8)
            let encryptionKey = SecretBox.generateKeyBase64()
            var config = try ConfigLoader.load(file: configPath, environment: ["SLUICE_SECURITY_ENCRYPTION_KEY": encryptionKey])
            config.logging.level = "error"
            let seed = try await openGateway(config: config, logger: Logger(label: "test"))
            _ = try await seed.store.addAccount(
                provider: "mock", kind: .apiKey, baseURL: nil, models: [], priority: 0, weight: 1, ownerUserID: nil,
                sharing: AccountSharing(), secret: try seed.secrets.seal("a"))
            let user = try await seed.store.createUser(email: "crash@test", initialCredits: Setup.balance)
            let key = try await APIKeyIssuer.issue(store: seed.store, userID: user, name: "k").key
            let setup = Setup(
                directory: directory, configPath: configPath, environment: ["SLUICE_SECURITY_ENCRYPTION_KEY": encryptionKey, "PREFIX": prefix],
                seed: seed, control: control, userID: user, key: key)
            let outcome = await Result { try await body(setup) }
            await seed.close()
            group.cancelAll()
            try outcome.get()
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
