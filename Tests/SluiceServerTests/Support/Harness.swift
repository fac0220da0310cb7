import AsyncHTTPClient
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import NIOCore
import SluiceCore
import SluiceMockUpstream
import SluiceProviders
import SluiceServer
import SluiceStore
import SluiceTestSupport
import Testing

/// A running gateway on a throwaway SQLite file (or PostgreSQL schema, see `TestPostgres`), in front of a real mock upstream on loopback.
struct Harness {
    static let model = "gpt-test"
    /// Prices of the test model, in USD per million tokens: 1 in, 2 out, 0.5 cached.
    static let price = Price(inputMicroUSDPerMillion: 1_000_000, outputMicroUSDPerMillion: 2_000_000, cachedInputMicroUSDPerMillion: 500_000)

    static let repoRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    let gateway: Gateway
    let control: MockControl
    let baseURL: String
    var port: Int { Int(baseURL.split(separator: ":").last ?? "") ?? 0 }
    let mockBaseURL: String
    let config: SluiceConfig

    static func manifest(port: Int) -> ProviderManifest {
        ProviderManifest(
            id: "mock", name: "Mock upstream", baseURL: "http://127.0.0.1:\(port)/v1", auth: .bearer,
            models: [
                .init(id: model, contextWindow: 100_000, maxOutputTokens: 1_000, price: price),
                .init(id: "gpt-other", contextWindow: 100_000, maxOutputTokens: 1_000, price: price),
                .init(id: embeddingModel, kind: .embedding, contextWindow: 8_000, maxOutputTokens: 0, price: embeddingPrice),
            ],
            oauth: .init(tokenURL: "http://127.0.0.1:\(port)/oauth/token", clientID: "sluice-test"))
    }

    /// The embedding models the mock serves, in OpenAI's format and in Gemini's, and their price.
    static let embeddingModel = "embed-test"
    static let geminiEmbeddingModel = "gemini-embed-mock"
    static let embeddingPrice = Price(inputUSD: "0.02", outputUSD: "0", cachedInputUSD: "0")!

    /// The model the mock serves in Anthropic's wire format, and its price (cache reads and
    /// writes priced apart, as Anthropic's are).
    static let anthropicModel = "claude-mock"
    static let anthropicPrice = Price(inputUSD: "3", outputUSD: "15", cachedInputUSD: "0.30", cacheWriteUSD: "3.75")!

    /// The mock's `/v1/messages`, as an Anthropic manifest names it: provider `mock-anthropic`.
    static func anthropicManifest(port: Int) -> ProviderManifest {
        ProviderManifest(
            id: "mock-anthropic", name: "Mock Anthropic", baseURL: "http://127.0.0.1:\(port)", wireProtocol: .anthropicMessages,
            auth: .header("x-api-key"), models: [.init(id: anthropicModel, contextWindow: 200_000, maxOutputTokens: 4_000, price: anthropicPrice)],
            resetHints: [.retryAfter, .anthropic])
    }

    /// The model the mock serves in Gemini's wire format, and its price.
    static let geminiModel = "gemini-mock"
    static let geminiPrice = Price(inputUSD: "1.25", outputUSD: "10", cachedInputUSD: "0.125")!

    /// The mock's `/v1beta/models/…:generateContent`, as a Gemini manifest names it: provider `mock-gemini`.
    static func geminiManifest(port: Int) -> ProviderManifest {
        ProviderManifest(
            id: "mock-gemini", name: "Mock Gemini", baseURL: "http://127.0.0.1:\(port)/v1beta", wireProtocol: .geminiGenerateContent,
            auth: .header("x-goog-api-key"),
            models: [
                .init(id: geminiModel, contextWindow: 1_000_000, maxOutputTokens: 8_000, price: geminiPrice),
                .init(id: geminiEmbeddingModel, kind: .embedding, contextWindow: 2_048, maxOutputTokens: 0, price: embeddingPrice),
            ],
            resetHints: [.retryAfter, .googleBody])
    }

    /// The model the mock serves in OpenAI's Responses wire format, and its price.
    static let responsesModel = "gpt-resp-mock"
    static let responsesPrice = Price(inputUSD: "2", outputUSD: "8", cachedInputUSD: "0.5")!

    /// The mock's `/v1/responses`, as a manifest for Responses accounts names it: provider `mock-responses`.
    static func responsesManifest(port: Int) -> ProviderManifest {
        ProviderManifest(
            id: "mock-responses", name: "Mock Responses", baseURL: "http://127.0.0.1:\(port)/v1", wireProtocol: .openAIResponses, auth: .bearer,
            models: [.init(id: responsesModel, contextWindow: 400_000, maxOutputTokens: 8_000, price: responsesPrice)])
    }

    static func config(directory: String) -> SluiceConfig {
        var config = SluiceConfig()
        config.server.port = 0
        config.database.path = directory + "/sluice.sqlite"
        config.database.migrationsDir = repoRoot.appendingPathComponent("Migrations").path
        config.providers.dir = repoRoot.appendingPathComponent("Providers").path
        config.security.encryptionKey = SecretBox.generateKeyBase64()
        config.upstream.headTimeoutSeconds = 5
        config.upstream.readTimeoutSeconds = 5
        config.server.maxBodyBytes = 64 << 10
        config.logging.level = "error"
        // Cheap hashes keep sign-in tests fast; the loader refuses this below 12 in real configs.
        config.auth.bcryptCost = 4
        // No monthly grants unless a test asks: they would change the balances other tests count.
        for name in SluiceConfig.Plan.names { config.plans[name]?.monthlyCredits = .zero }
        return config
    }

    /// Runs `body` against a fresh gateway and mock, then stops both.
    /// `logs`, when given, receives every log line of the gateway at `logs.level`.
    static func run(
        configure: (inout SluiceConfig) -> Void = { _ in }, directory: String? = nil, logs: LogCapture? = nil,
        clock: any WallClock = SystemClock(), _ body: (Harness) async throws -> Void
    ) async throws {
        // A directory the test named is the test's to keep (it restarts on it); one made here goes.
        let ownsDirectory = directory == nil
        let directory = directory ?? NSTemporaryDirectory() + "sluice-e2e-\(UUID().uuidString)"
        defer { if ownsDirectory { try? FileManager.default.removeItem(atPath: directory) } }
        var config = Self.config(directory: directory)
        if TestPostgres.serverTestsUsePostgres {
            // One schema per directory, so a test that restarts on the same directory finds its data.
            let name = "e2e_" + String(UInt64(bitPattern: Int64(directory.hashValue)), radix: 36)
            config.database.url = try await TestPostgres.schemaURL(named: name)
            // Shared state in Redis too, under keys of this gateway's own, like its schema.
            if let redis = TestRedis.url {
                config.redis.url = redis
                config.redis.keyPrefix = name
            }
        }
        configure(&config)
        let control = MockControl()
        let logger = Logger(label: "test") { _ in
            logs.map { LogCapture.Handler(sink: $0, logLevel: $0.logLevel) as any LogHandler } ?? SwiftLogNoOpLogHandler()
        }
        let (ports, portSink) = AsyncStream.makeStream(of: Int.self)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await MockUpstream.application(control: control) { portSink.yield($0) }.run() }
            var portIterator = ports.makeAsyncIterator()
            let mockPort = try #require(await portIterator.next())
            var headerAuth = manifest(port: mockPort)
            headerAuth.id = "mock-header"
            headerAuth.auth = .header("api-key")
            headerAuth.oauth = nil
            let gateway = try await openGateway(
                config: config, extraProviders: [manifest(port: mockPort), headerAuth, anthropicManifest(port: mockPort), geminiManifest(port: mockPort),
                    responsesManifest(port: mockPort)], clock: clock,
                logger: logger)
            let app = try await buildApplication(config: config, gateway: gateway, logger: logger) { portSink.yield($0) }
            // Stopped the way SIGTERM stops it, so every test also exercises the graceful drain.
            let services = ServiceGroup(configuration: .init(services: [app], logger: logger))
            group.addTask { try await services.run() }
            let port = try #require(await portIterator.next())
            let harness = Harness(
                gateway: gateway, control: control, baseURL: "http://127.0.0.1:\(port)", mockBaseURL: "http://127.0.0.1:\(mockPort)/v1",
                config: config)
            let outcome = await Result(catching: { try await body(harness) })
            await services.triggerGracefulShutdown()
            try await group.next()
            group.cancelAll()
            try outcome.get()
        }
    }

    // MARK: Seeding

    struct User {
        var id: Int64
        var key: String
    }

    func user(credits: Credits = Credits(whole: 10), email: String = "u\(UUID().uuidString)@test") async throws -> User {
        let id = try await gateway.store.createUser(email: email, initialCredits: credits)
        return User(id: id, key: try await APIKeyIssuer.issue(store: gateway.store, userID: id, name: "test").key)
    }

    /// Adds an account on the mock; its secret is what the mock keys its behaviour on.
    @discardableResult
    func account(
        secret: String, priority: Int = 0, owner: Int64? = nil, kind: AccountKind = .apiKey, models: [String] = [],
        provider: String = "mock", sharing: AccountSharing = AccountSharing()
    ) async throws -> Int64 {
        let id = try await gateway.store.addAccount(
            provider: provider, kind: kind, baseURL: nil, models: models, priority: priority, weight: 1, ownerUserID: owner,
            sharing: sharing, secret: try gateway.secrets.seal(secret))
        try await gateway.pool.reload()
        return id
    }

    // MARK: Requests

    struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var body: Data
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: body) as? [String: Any] }
        var error: [String: Any]? { json?["error"] as? [String: Any] }
    }

    /// `timeout` bounds the whole exchange; a test that sends far more than others (a batch of
    /// 1,000 events) gives more, since the suite runs many gateways on two cores at once.
    func request(
        _ path: String, method: NIOHTTP1.HTTPMethod = .POST, body: String? = nil, key: String?, headers: [(String, String)] = [],
        timeout: TimeAmount = .seconds(30)
    ) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let key { request.headers.add(name: "authorization", value: "Bearer \(key)") }
        request.headers.add(name: "content-type", value: "application/json")
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(string: body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: timeout)
        let data = try await response.body.collect(upTo: 16 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers, body: Data(buffer: data))
    }

    func chat(_ key: String, stream: Bool = false, extra: String = "") async throws -> Reply {
        try await request("/v1/chat/completions", body: Self.chatBody(stream: stream, extra: extra), key: key)
    }

    static func chatBody(model: String = model, stream: Bool, extra: String = "") -> String {
        #"{"model":"\#(model)","stream":\#(stream),"messages":[{"role":"user","content":"Hello there"}]\#(extra)}"#
    }

    /// Waits until every settled request is in the store.
    func settled() async { await gateway.settlements.flush() }
}

import NIOHTTP1

/// A client-side SSE reader over an AsyncHTTPClient response body.
struct EventReader {
    var iterator: HTTPClientResponse.Body.AsyncIterator
    var parser = SSEParser()
    var queue: [String] = []

    init(_ response: HTTPClientResponse) { iterator = response.body.makeAsyncIterator() }

    /// The next `data:` payload, or nil at the end of the stream.
    mutating func next() async throws -> String? {
        while queue.isEmpty {
            guard let buffer = try await iterator.next() else { return nil }
            queue += try parser.feed(buffer.readableBytesView).map { String(decoding: $0.data, as: UTF8.self) }
        }
        return queue.removeFirst()
    }

    mutating func rest() async throws -> [String] {
        var all: [String] = []
        while let event = try await next() { all.append(event) }
        return all
    }
}

extension Harness {
    func openStream(_ key: String, model: String = Harness.model, extra: String = "") async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: baseURL + "/v1/chat/completions")
        request.method = .POST
        request.headers.add(name: "authorization", value: "Bearer \(key)")
        request.body = .bytes(ByteBuffer(string: Self.chatBody(model: model, stream: true, extra: extra)))
        return try await HTTPClient.shared.execute(request, timeout: .seconds(30))
    }

    /// A stream held running for as long as a test needs: its account's upstream sends the role
    /// chunk and one piece of content, then waits for `control.releaseGate()`. Both chunks have
    /// been read when it returns.
    func heldStream(_ key: String) async throws -> EventReader {
        try await account(secret: "held")
        control.set(.gated, for: "held")
        var reader = EventReader(try await openStream(key))
        _ = try await reader.next()
        _ = try await reader.next()
        return reader
    }

    func streamEvents(_ key: String, model: String = Harness.model, extra: String = "") async throws -> (HTTPClientResponse, [String]) {
        let response = try await openStream(key, model: model, extra: extra)
        var reader = EventReader(response)
        return (response, try await reader.rest())
    }
}

/// Polls `condition` until it holds, for effects that happen just after a response ends
/// (a cancelled upstream, a queued settlement). Bounded, so a broken path fails instead of hanging.
func eventually(_ what: Comment, within seconds: Double = 10, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("never happened: \(what)")
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}
