import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore
import SluiceMockUpstream
import SluiceServer
import SluiceStore
import SluiceTestSupport
import Testing

/// Two `sluice serve` processes on one PostgreSQL schema and one Redis, driven at once (issue 5,
/// part 3). Runs in the first pass of `scripts/test`, which starts both servers.
@Suite(.enabled(if: TestPostgres.baseURL != nil && TestRedis.url != nil && !TestPostgres.serverTestsUsePostgres))
struct TwoInstanceTests {
    static let password = "correct horse battery staple"

    struct Cluster {
        var a: GatewayProcess
        var b: GatewayProcess
        var store: any GatewayStore
        var control: MockControl
    }

    @Test func twoProcessesShareMoneyCooldownsRevocationsAndSignInLimits() async throws {
        try await withCluster { cluster in
            try await balanceCoversOnlySomeRequests(cluster)
            try await revokedKeyIsRefusedByTheOtherInstance(cluster)
            try await cooldownIsHonouredByTheOtherInstance(cluster)
            try await failedSignInsCountOnBothInstances(cluster)
        }
    }

    /// 30 requests at once, half through each instance, against a balance that covers 3: together
    /// they charge no more than the balance, and the ledger, the usage rows and the balance agree.
    func balanceCoversOnlySomeRequests(_ cluster: Cluster) async throws {
        let balance = Credits(micros: 100)
        let user = try await cluster.store.createUser(email: "money@test", initialCredits: balance)
        let key = try await APIKeyIssuer.issue(store: cluster.store, userID: user, name: "k").key
        let outcomes = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<30 {
                let instance = i.isMultiple(of: 2) ? cluster.a.baseURL : cluster.b.baseURL
                group.addTask { try await Self.chat(instance, key: key).outcome }
            }
            return try await group.reduce(into: [String]()) { $0.append($1) }
        }
        let served = outcomes.filter { $0 == "200" }.count
        #expect(served >= 1 && served <= 4, "outcomes: \(outcomes)")
        #expect(outcomes.allSatisfy { $0 == "200" || $0 == "429 insufficient_quota" }, "outcomes: \(outcomes)")
        try await eventually("both instances wrote every settle", within: 10) {
            try await cluster.store.usageLogs(userID: user).count == served
        }
        let charged = try await cluster.store.usageLogs(userID: user).reduce(Int64(0)) { $0 + $1.charged.micros }
        let consumed = try await cluster.store.ledger(userID: user).filter { $0.kind == .consume }.reduce(Int64(0)) { $0 - $1.amount.micros }
        let left = try #require(try await cluster.store.balance(userID: user))
        #expect(charged <= balance.micros)
        #expect(consumed == charged)
        #expect(left.micros == balance.micros - charged)
        #expect(left.micros >= 0)
    }

    /// A key whose entry the other instance has cached (for a minute, by this config) is refused
    /// there within a second of its revocation, through the cluster's events.
    func revokedKeyIsRefusedByTheOtherInstance(_ cluster: Cluster) async throws {
        let hash = try await PasswordHasher(cost: 12).hash(Self.password)
        let user = try await cluster.store.createUser(NewUser(email: "revoke@test", passwordHash: hash, initialCredits: Credits(whole: 1)))
        let issued = try await APIKeyIssuer.issue(store: cluster.store, userID: user, name: "k")
        #expect(try await Self.chat(cluster.b.baseURL, key: issued.key).status == 200)
        let login = try await Self.send(
            cluster.a.baseURL, "/api/auth/login", body: #"{"email":"revoke@test","password":"\#(Self.password)"}"#, key: nil)
        let access = try #require(login.json?["access_token"] as? String)
        #expect(try await Self.send(cluster.a.baseURL, "/api/api-keys/\(issued.id)", method: .DELETE, key: access).status == 204)
        let revoked = ContinuousClock.now
        var status = 200
        while status == 200, ContinuousClock.now - revoked < .seconds(3) {
            status = try await Self.chat(cluster.b.baseURL, key: issued.key).status
            if status == 200 { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(status == 401)
        #expect(ContinuousClock.now - revoked < .seconds(1))
    }

    /// The account answers one instance with a 429 that resets in a minute; once the other
    /// instance has the cooldown (its `/metrics` says so), it does not send the account a request,
    /// and says every account is cooling.
    func cooldownIsHonouredByTheOtherInstance(_ cluster: Cluster) async throws {
        let user = try await cluster.store.createUser(email: "cool@test", initialCredits: Credits(whole: 1))
        let key = try await APIKeyIssuer.issue(store: cluster.store, userID: user, name: "k").key
        cluster.control.set(.fail(status: 429, retryAfter: "60"), for: "a")
        #expect(try await Self.chat(cluster.a.baseURL, key: key).status == 429)
        let sent = cluster.control.requests.count
        try await eventually("the other instance learns the cooldown", within: 10) {
            let metrics = try await Self.send(cluster.b.baseURL, "/metrics", method: .GET, key: nil)
            return String(decoding: metrics.body, as: UTF8.self).split(separator: "\n").contains {
                $0.hasPrefix("sluice_account_cooling{") && ($0.hasSuffix(" 1.0") || $0.hasSuffix(" 1"))
            }
        }
        let reply = try await Self.chat(cluster.b.baseURL, key: key)
        #expect(reply.outcome == "429 upstream_capacity")
        #expect(reply.message?.contains("cooling down") == true, "\(reply.message ?? "")")
        #expect(cluster.control.requests.count == sent)
    }

    /// Four failed sign-ins, alternating between the instances, pause the account on both: each
    /// instance alone saw only two, under its limit of four.
    func failedSignInsCountOnBothInstances(_ cluster: Cluster) async throws {
        let wrong = #"{"email":"guess@test","password":"not the password"}"#
        for i in 0..<4 {
            let reply = try await Self.send(i.isMultiple(of: 2) ? cluster.a.baseURL : cluster.b.baseURL, "/api/auth/login", body: wrong, key: nil)
            #expect(reply.status == 401, "attempt \(i): \(reply.outcome)")
        }
        for instance in [cluster.a.baseURL, cluster.b.baseURL] {
            let reply = try await Self.send(instance, "/api/auth/login", body: wrong, key: nil)
            #expect(reply.status == 429, "\(reply.outcome)")
        }
    }

    // MARK: Setup

    func withCluster(_ body: (Cluster) async throws -> Void) async throws {
        let databaseURL = try await TestPostgres.freshSchemaURL()
        try await ProcessFixture.with("two", configuration: { directory in
            Self.configFile(databaseURL: databaseURL, providers: directory + "/providers", prefix: "two_\(UUID().uuidString.prefix(8))")
        }) { fixture in
            let a = try await fixture.start("a")
            let b: GatewayProcess
            do { b = try await fixture.start("b") } catch {
                await a.stop()
                throw error
            }
            let outcome = await Result { try await body(Cluster(a: a, b: b, store: fixture.seed.store, control: fixture.control)) }
            await a.stop()
            await b.stop()
            try outcome.get()
        }
    }

    static func configFile(databaseURL: String, providers: String, prefix: String) -> String {
        """
            server:
              host: 127.0.0.1
            database:
              url: "\(databaseURL)"
              migrations_dir: "\(Harness.repoRoot.appendingPathComponent("Migrations").path)"
            redis:
              url: "\(TestRedis.url ?? "")"
              key_prefix: \(prefix)
            providers:
              dir: "\(providers)"
            auth:
              jwt_secret: "two-instance-test-secret-of-enough-length"
              key_cache_ttl_millis: 60000
              login_failures_per_account_per_15_minutes: 4
            logging:
              level: warning
            plans:
            \(ProcessFixture.plansWithoutGrants)
            """
    }

    struct Reply {
        var status: Int
        var json: [String: Any]?
        var body = Data()
        var error: [String: Any]? { json?["error"] as? [String: Any] }
        var message: String? { error?["message"] as? String }
        /// The status, and the error code when there is one.
        var outcome: String { [String(status), error?["code"] as? String].compactMap { $0 }.joined(separator: " ") }
    }

    static func chat(_ baseURL: String, key: String) async throws -> Reply {
        try await send(baseURL, "/v1/chat/completions", body: Harness.chatBody(stream: false, extra: #","max_tokens":4"#), key: key)
    }

    static func send(_ baseURL: String, _ path: String, method: HTTPMethod = .POST, body: String? = nil, key: String?) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let key { request.headers.add(name: "authorization", value: "Bearer \(key)") }
        request.headers.add(name: "content-type", value: "application/json")
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let data = try await response.body.collect(upTo: 1 << 20)
        let body = Data(buffer: data)
        return Reply(status: Int(response.status.code), json: try? JSONSerialization.jsonObject(with: body) as? [String: Any], body: body)
    }
}
