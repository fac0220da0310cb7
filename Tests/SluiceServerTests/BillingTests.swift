import AsyncHTTPClient
import Foundation
import NIOCore
import SluiceCore
import SluiceMockUpstream
import SluiceServer
import SluiceStore
import SluiceTestSupport
import Testing

@Suite struct BillingTests {
    /// The mock reports 12 prompt and 8 completion tokens: 12 × 1 + 8 × 2 micro-credits.
    static let mockCost = Credits(micros: 28)

    @Test func reportedUsageIsChargedOnceWithALedgerEntryAndAUsageRow() async throws {
        try await Harness.run { h in
            let account = try await h.account(secret: "a")
            let user = try await h.user(credits: Credits(whole: 1))
            let reply = try await h.chat(user.key)
            let requestID = try #require(reply.headers.first(name: "x-request-id"))
            await h.settled()
            #expect(try await h.gateway.store.balance(userID: user.id) == Credits(whole: 1) - Self.mockCost)
            let consume = try await h.gateway.store.ledger(userID: user.id).filter { $0.kind == .consume }
            #expect(consume.map(\.referenceID) == [requestID])
            #expect(consume.first?.amount == -Self.mockCost)
            let log = try #require(try await h.gateway.store.usageLogs(userID: user.id).first)
            #expect(log.requestID == requestID)
            #expect(log.accountID == account)
            #expect(log.usage == TokenUsage(promptTokens: 12, completionTokens: 8))
            #expect(log.charged == Self.mockCost)
            #expect(!log.costEstimated)
            #expect(log.status == 200 && log.endReason == "completed" && log.model == Harness.model)
            #expect(h.gateway.credits.outstandingHolds == 0)
        }
    }

    @Test func streamedUsageIsChargedWhetherOrNotTheClientAskedForIt() async throws {
        try await Harness.run { h in
            try await h.account(secret: "a")
            let user = try await h.user(credits: Credits(whole: 1))
            _ = try await h.streamEvents(user.key)
            await h.settled()
            let log = try #require(try await h.gateway.store.usageLogs(userID: user.id).first)
            #expect(!log.costEstimated)
            #expect(log.usage.promptTokens == 12)
            #expect(log.ttftMs != nil)
            #expect(log.stream)
        }
    }

    @Test func tooLittleBalanceIs429InsufficientQuotaWithoutRetry() async throws {
        try await Harness.run { h in
            try await h.account(secret: "a")
            let user = try await h.user(credits: Credits(micros: 10))
            let reply = try await h.chat(user.key)
            #expect(reply.status == 429)
            #expect(reply.error?["code"] as? String == "insufficient_quota")
            #expect(reply.headers.first(name: "x-should-retry") == "false")
            #expect(h.control.requests.isEmpty)
            try await OpenAISchema.expectValid([("ErrorResponse", reply.body)])
        }
    }

    @Test func holdCoversPromptAndMaxTokensClampedToTheModel() async throws {
        try await Harness.run { h in
            try await h.account(secret: "a")
            // The model allows 1,000 output tokens (2,000 micro-credits); a request for a million is clamped.
            let body = Harness.chatBody(stream: false, extra: #","max_tokens":1000000"#)
            let prompt = TokenEstimate.promptTokens(bodyBytes: body.utf8.count)
            let user = try await h.user(credits: Credits(micros: Int64(prompt + 2_000)))
            #expect(try await h.request("/v1/chat/completions", body: body, key: user.key).status == 200)
            let poorer = try await h.user(credits: Credits(micros: Int64(prompt + 1_999)))
            #expect(try await h.request("/v1/chat/completions", body: body, key: poorer.key).status == 429)
        }
    }

    @Test func concurrentRequestsNeverChargeMoreThanTheBalance() async throws {
        try await Harness.run { h in
            try await h.account(secret: "a")
            // Each request holds its worst case: prompt estimate plus 1,000 output tokens at 2 per token.
            let body = Harness.chatBody(stream: false)
            let worstCase = Int64(TokenEstimate.promptTokens(bodyBytes: body.utf8.count) + 2_000)
            let user = try await h.user(credits: Credits(micros: worstCase * 10))
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<50 { group.addTask { try await h.request("/v1/chat/completions", body: body, key: user.key).status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 429 })
            let served = statuses.filter { $0 == 200 }.count
            #expect(served >= 10)
            await h.settled()
            let balance = try #require(try await h.gateway.store.balance(userID: user.id))
            #expect(balance >= .zero)
            let logs = try await h.gateway.store.usageLogs(userID: user.id)
            #expect(logs.count == served)
            #expect(logs.reduce(Credits.zero) { $0 + $1.charged } <= Credits(micros: worstCase * 10))
            try await expectLedgerBalances(h, userID: user.id)
        }
    }

    /// A request on each client API, with the model it names, that model's price and most output.
    struct RouteCase: Sendable, CustomTestStringConvertible {
        var path: String
        var body: String
        var headers: [(String, String)]
        var provider: String
        var price: Price
        var maxOutput: Int
        var testDescription: String { "\(path) via \(provider)" }
    }

    static let routes = [
        RouteCase(
            path: "/v1/messages", body: MessagesAPITests.body(model: Harness.anthropicModel, stream: true),
            headers: [("anthropic-version", "2023-06-01")], provider: "mock-anthropic", price: Harness.anthropicPrice, maxOutput: 256),
        RouteCase(
            path: "/v1beta/models/\(Harness.geminiModel):streamGenerateContent?alt=sse", body: GeminiAPITests.body, headers: [],
            provider: "mock-gemini", price: Harness.geminiPrice, maxOutput: 256),
        RouteCase(
            path: "/v1/responses", body: #"{"model":"gpt-test","input":"Hello there","max_output_tokens":256,"stream":true}"#, headers: [],
            provider: "mock", price: Harness.price, maxOutput: 256),
        RouteCase(
            path: "/v1/responses", body: #"{"model":"gpt-resp-mock","input":"Hello there","max_output_tokens":256,"stream":true}"#,
            headers: [], provider: "mock-responses", price: Harness.responsesPrice, maxOutput: 256),
        RouteCase(
            path: "/v1/embeddings", body: #"{"model":"embed-test","input":["Hello there","and again"]}"#, headers: [],
            provider: "mock", price: Harness.embeddingPrice, maxOutput: 0),
    ]

    @Test(arguments: routes)
    func concurrentRequestsOnEachClientAPINeverChargeMoreThanTheBalance(_ route: RouteCase) async throws {
        try await Harness.run { h in
            try await h.account(secret: "route", provider: route.provider)
            // Credits for ten worst cases; the prompt estimate is padded, as a translated body may be longer.
            let worstCase = Pricing(creditsPerUSD: Credits(whole: 1)).worstCase(
                promptTokens: TokenEstimate.promptTokens(bodyBytes: route.body.utf8.count + 300), maxOutputTokens: route.maxOutput, at: route.price)
            let user = try await h.user(credits: Credits(micros: max(1, worstCase.micros) * 10))
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<50 { group.addTask { try await h.request(route.path, body: route.body, key: user.key, headers: route.headers).status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 429 }, "\(statuses)")
            let served = statuses.filter { $0 == 200 }.count
            #expect(served >= 10)
            await h.settled()
            #expect(try #require(try await h.gateway.store.balance(userID: user.id)) >= .zero)
            let logs = try await h.gateway.store.usageLogs(userID: user.id)
            #expect(logs.count == served)
            #expect(logs.reduce(Credits.zero) { $0 + $1.charged } <= Credits(micros: max(1, worstCase.micros) * 10))
            try await expectLedgerBalances(h, userID: user.id)
        }
    }

    @Test func clientDisconnectCancelsTheUpstreamAndChargesWhatWasStreamed() async throws {
        try await Harness.run { h in
            try await h.account(secret: "endless")
            h.control.set(.endless(intervalMillis: 20), for: "endless")
            let user = try await h.user()
            do {
                let response = try await h.openStream(user.key)
                var reader = EventReader(response)
                for _ in 0..<4 { _ = try await reader.next() }
                // Dropping the reader here closes the connection to the gateway.
            }
            try await eventually("the upstream stream is cancelled") { h.control.abandonedStreams == 1 }
            try await eventually("the request is settled") {
                await h.settled()
                return try await !h.gateway.store.usageLogs(userID: user.id).isEmpty
            }
            let log = try #require(try await h.gateway.store.usageLogs(userID: user.id).first)
            #expect(log.endReason == "client_disconnect")
            #expect(log.costEstimated)
            #expect(log.charged > .zero)
            #expect(h.gateway.credits.outstandingHolds == 0)
            try await expectLedgerBalances(h, userID: user.id)
        }
    }

    @Test func failureBeforeAnyOutputIsFree() async throws {
        try await Harness.run { h in
            try await h.account(secret: "a")
            h.control.set(.fail(status: 500), for: "a")
            let user = try await h.user(credits: Credits(whole: 1))
            #expect(try await h.chat(user.key, stream: true).status == 502)
            await h.settled()
            #expect(try await h.gateway.store.balance(userID: user.id) == Credits(whole: 1))
            let log = try #require(try await h.gateway.store.usageLogs(userID: user.id).first)
            #expect(log.charged == .zero)
            #expect(try await h.gateway.store.ledger(userID: user.id).filter { $0.kind == .consume }.isEmpty)
        }
    }

    @Test func aRestartReleasesHoldsThatWereNeverSettled() async throws {
        let directory = NSTemporaryDirectory() + "sluice-restart-\(UUID().uuidString)"
        var userID: Int64 = 0
        // Shared holds (Redis) outlive a process by their lease; in process they die with it.
        let shortLease: (inout SluiceConfig) -> Void = { $0.redis.holdLeaseSeconds = 1 }
        let clock = ManualClock(Date())
        try await Harness.run(configure: shortLease, directory: directory, clock: clock) { h in
            try await h.account(secret: "a")
            let user = try await h.user(credits: Credits(micros: 5_000))
            userID = user.id
            // A hold whose request never settles (the process dies mid-request).
            #expect(try await h.gateway.credits.hold(userID: user.id, amount: Credits(micros: 4_000), requestID: "lost") == .held)
            #expect(try await h.chat(user.key).status == 429)
        }
        // Same database, new process: the stale hold is gone and the full balance is available.
        let restartedUser = userID
        clock.advance(by: 1.1)  // past the shared hold's lease
        try await Harness.run(configure: shortLease, directory: directory, clock: clock) { (h: Harness) async throws -> Void in
            let available = try await h.gateway.credits.available(userID: restartedUser)
            #expect(available == Credits(micros: 5_000))
            let consumed = try await h.gateway.store.ledger(userID: restartedUser).filter { $0.kind == .consume }
            #expect(consumed.isEmpty)
        }
    }

    @Test func gracefulShutdownWritesEverySettledCharge() async throws {
        let directory = NSTemporaryDirectory() + "sluice-drain-\(UUID().uuidString)"
        var userID: Int64 = 0
        try await Harness.run(directory: directory) { h in
            try await h.account(secret: "a")
            let user = try await h.user(credits: Credits(whole: 1))
            userID = user.id
            for _ in 0..<20 { #expect(try await h.chat(user.key).status == 200) }
            // No flush here: the harness stops the gateway the way SIGTERM does.
        }
        let drainedUser = userID
        try await Harness.run(directory: directory) { (h: Harness) async throws -> Void in
            let logs = try await h.gateway.store.usageLogs(userID: drainedUser)
            #expect(logs.count == 20)
            let balance = try await h.gateway.store.balance(userID: drainedUser)
            #expect(balance == Credits(whole: 1) - Credits(micros: Self.mockCost.micros * 20))
        }
    }

    func expectLedgerBalances(_ h: Harness, userID: Int64, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let ledger = try await h.gateway.store.ledger(userID: userID)
        var running = Credits.zero
        for entry in ledger {
            #expect(entry.balanceBefore == running, sourceLocation: sourceLocation)
            running = running + entry.amount
            #expect(entry.balanceAfter == running, sourceLocation: sourceLocation)
        }
        #expect(try await h.gateway.store.balance(userID: userID) == running, sourceLocation: sourceLocation)
        let consumed = ledger.filter { $0.kind == .consume }.reduce(Credits.zero) { $0 - $1.amount }
        let logged = try await h.gateway.store.usageLogs(userID: userID).reduce(Credits.zero) { $0 + $1.charged }
        #expect(consumed == logged, "usage-log costs equal consume entries", sourceLocation: sourceLocation)
    }
}
