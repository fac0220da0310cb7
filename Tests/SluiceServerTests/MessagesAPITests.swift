import AsyncHTTPClient
import Foundation
import NIOCore
import SluiceCore
import SluiceMockUpstream
import SluiceStore
import Testing

/// `POST /v1/messages` for Anthropic's clients: passed through, byte for byte, to Anthropic
/// accounts, and translated for OpenAI-compatible and Gemini ones; Anthropic's error shape on
/// every refusal; the same holds, settlement and usage log as chat.
@Suite struct MessagesAPITests {
    static let version = "2023-06-01"

    static func body(model: String, stream: Bool, extra: String = "") -> String {
        #"{"model":"\#(model)","max_tokens":256,"stream":\#(stream),"messages":[{"role":"user","content":"Hello there"}]\#(extra)}"#
    }

    /// A Messages call with the key as `x-api-key`, as the Anthropic SDKs send it.
    func messages(_ h: Harness, _ key: String, _ body: String, headers: [(String, String)] = []) async throws -> Harness.Reply {
        try await h.request(
            "/v1/messages", body: body, key: nil, headers: [("x-api-key", key), ("anthropic-version", Self.version)] + headers)
    }

    /// The events of a Messages stream, names and all.
    func events(_ reply: Harness.Reply) throws -> [ServerSentEvent] {
        var parser = SSEParser()
        return try parser.feed(reply.body)
    }

    func anthropicError(_ reply: Harness.Reply) -> (type: String?, message: String?) {
        let error = reply.json?["error"] as? [String: Any]
        return (error?["type"] as? String, error?["message"] as? String)
    }

    @Test func anAnthropicAccountGetsTheClientsBodyAsItCameAndTheClientItsAnswer() async throws {
        try await Harness.run { h in
            try await h.account(secret: "ant", provider: "mock-anthropic")
            let user = try await h.user(credits: Credits(whole: 1))
            let body = Self.body(model: Harness.anthropicModel, stream: false, extra: #","top_k":5,"metadata":{"user_id":"u-1"}"#)
            let reply = try await messages(h, user.key, body, headers: [("anthropic-beta", "prompt-caching-2024-07-31")])
            #expect(reply.status == 200, "\(reply.text)")
            let sent = try #require(h.control.requests.last)
            #expect(String(decoding: sent.body, as: UTF8.self) == body, "byte for byte")
            #expect(sent.apiKeyHeader == "ant" && sent.anthropicVersion == Self.version && sent.anthropicBeta == "prompt-caching-2024-07-31")
            try await NativeSchema.anthropic.expectValid([("message", reply.body)])
            #expect(reply.json?["type"] as? String == "message")

            // Charged from the message's own usage: 12 plain in, 100 cache reads, 20 cache writes, output.
            await h.settled()
            let log = try #require(try await h.gateway.store.usageLogs(userID: user.id).last)
            #expect(log.usage.cachedPromptTokens == 100 && log.usage.cacheWriteTokens == 20 && log.provider == "mock-anthropic")
            #expect(log.clientProtocol == "anthropic-messages" && log.upstreamProtocol == "anthropic-messages")
            #expect(log.charged == Pricing(creditsPerUSD: Credits(whole: 1)).cost(of: log.usage, at: Harness.anthropicPrice))
        }
    }

    @Test func aStreamPassedThroughIsTheUpstreamsEventsAndEndsWithMessageStop() async throws {
        try await Harness.run { h in
            try await h.account(secret: "ant", provider: "mock-anthropic")
            let user = try await h.user()
            let reply = try await messages(h, user.key, Self.body(model: Harness.anthropicModel, stream: true))
            #expect(reply.status == 200)
            let events = try events(reply)
            #expect(events.first?.event == "message_start" && events.last?.event == "message_stop")
            #expect(events.allSatisfy { $0.event != nil }, "every event keeps its name")
            try await NativeSchema.anthropic.expectValid(events.map { ("event", $0.data) })
            let text = events.compactMap { event -> String? in
                let delta = (try? JSONSerialization.jsonObject(with: event.data) as? [String: Any])?["delta"] as? [String: Any]
                return delta?["text"] as? String
            }.joined()
            #expect(text == MockUpstream.reply)
            await h.settled()
            let log = try #require(try await h.gateway.store.usageLogs(userID: user.id).last)
            #expect(log.usage.cachedPromptTokens == 100 && log.usage.completionTokens > 0 && !log.costEstimated)
        }
    }

    @Test(arguments: [("mock", Harness.model), ("mock-gemini", Harness.geminiModel), ("mock-responses", Harness.responsesModel)])
    func anotherProtocolsAccountAnswersInAnthropicsShape(provider: String, model: String) async throws {
        try await Harness.run { h in
            try await h.account(secret: "other", provider: provider)
            let user = try await h.user()
            let whole = try await messages(h, user.key, Self.body(model: model, stream: false, extra: #","system":"Be brief.""#))
            #expect(whole.status == 200, "\(whole.text)")
            try await NativeSchema.anthropic.expectValid([("message", whole.body)])
            let content = try #require(whole.json?["content"] as? [[String: Any]])
            #expect(content.first?["text"] as? String == MockUpstream.reply && whole.json?["stop_reason"] as? String == "end_turn")

            let streamed = try await messages(h, user.key, Self.body(model: model, stream: true))
            let events = try events(streamed)
            try await NativeSchema.anthropic.expectValid(events.map { ("event", $0.data) })
            #expect(events.map(\.event).first == "message_start" && events.map(\.event).suffix(2) == ["message_delta", "message_stop"])
            let delta = try #require(try JSONSerialization.jsonObject(with: events[events.count - 2].data) as? [String: Any])
            #expect(((delta["usage"] as? [String: Any])?["output_tokens"] as? Int ?? 0) > 0)
            // And one chat request, so the log tells the two client protocols apart.
            #expect(try await h.request("/v1/chat/completions", body: Harness.chatBody(model: model, stream: false), key: user.key).status == 200)
            await h.settled()
            let logs = try await h.gateway.store.usageLogs(userID: user.id)
            #expect(logs.allSatisfy { $0.provider == provider && !$0.costEstimated })
            let upstream = ["mock": "openai-chat", "mock-gemini": "gemini-generate-content", "mock-responses": "openai-responses"][provider]!
            #expect(logs.map(\.clientProtocol) == ["anthropic-messages", "anthropic-messages", "openai-chat"])
            #expect(logs.allSatisfy { $0.upstreamProtocol == upstream })
            let stats = try await h.gateway.store.usageStats(UsageQuery(userID: user.id))
            #expect(stats.byClientProtocol.mapValues(\.requests) == ["anthropic-messages": 2, "openai-chat": 1])
            #expect(stats.byUpstreamProtocol.mapValues(\.requests) == [upstream: 3])
        }
    }

    @Test func aToolCallFromAnOpenAIAccountStreamsAsAToolUseBlock() async throws {
        try await Harness.run { h in
            try await h.account(secret: "tools")
            h.control.set(.toolCall, for: "tools")
            let user = try await h.user()
            let tools = #","tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}}}}]"#
            let reply = try await messages(h, user.key, Self.body(model: Harness.model, stream: true, extra: tools))
            let events = try events(reply)
            try await NativeSchema.anthropic.expectValid(events.map { ("event", $0.data) })
            let objects = events.compactMap { try? JSONSerialization.jsonObject(with: $0.data) as? [String: Any] }
            let start = try #require(objects.first { ($0["content_block"] as? [String: Any])?["type"] as? String == "tool_use" })
            #expect((start["content_block"] as? [String: Any])?["name"] as? String == "get_weather")
            let json = objects.compactMap { ($0["delta"] as? [String: Any])?["partial_json"] as? String }.joined()
            #expect((try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: String]) == ["city": "Paris"])
            let stop = objects.first { $0["type"] as? String == "message_delta" }
            #expect((stop?["delta"] as? [String: Any])?["stop_reason"] as? String == "tool_use")
            // What the OpenAI account got: the tool as a function, usage asked for.
            let last = try #require(h.control.requests.last)
            let sent = try #require(try JSONSerialization.jsonObject(with: last.body) as? [String: Any])
            #expect(((sent["tools"] as? [[String: Any]])?.first?["function"] as? [String: Any])?["name"] as? String == "get_weather")
            #expect((sent["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true)
        }
    }

    @Test func everyRefusalIsInAnthropicsShapeWithItsStatus() async throws {
        try await Harness.run { h in
            try await h.account(secret: "ant", provider: "mock-anthropic")
            let user = try await h.user()
            let missing = try await messages(h, user.key, #"{"model":"claude-mock","messages":[{"role":"user","content":"hi"}]}"#)
            #expect(missing.status == 400 && missing.json?["type"] as? String == "error")
            #expect(anthropicError(missing).type == "invalid_request_error" && anthropicError(missing).message == "max_tokens: Field required")
            let badRole = try await messages(h, user.key, #"{"model":"claude-mock","max_tokens":5,"messages":[{"role":"system","content":"hi"}]}"#)
            #expect(badRole.status == 400 && anthropicError(badRole).message?.hasPrefix("messages.0.role") == true)
            let notJSON = try await messages(h, user.key, "{not json")
            #expect(notJSON.status == 400 && anthropicError(notJSON).type == "invalid_request_error")
            let unknown = try await messages(h, user.key, Self.body(model: "claude-nope", stream: false))
            #expect(unknown.status == 404 && anthropicError(unknown).type == "not_found_error")
            let badKey = try await messages(h, "sk-wrong", Self.body(model: Harness.anthropicModel, stream: false))
            #expect(badKey.status == 401 && anthropicError(badKey).type == "authentication_error")
            let big = try await messages(h, user.key, Self.body(model: Harness.anthropicModel, stream: false, extra: #","system":"\#(String(repeating: "x", count: 70_000))""#))
            #expect(big.status == 400 && anthropicError(big).type == "invalid_request_error")
            try await NativeSchema.anthropic.expectValid([missing, badRole, notJSON, unknown, badKey, big].map { ("error", $0.body) })
            // The upstream's own refusal reaches the client as it came.
            h.control.set(.fail(status: 400), for: "ant")
            let refused = try await messages(h, user.key, Self.body(model: Harness.anthropicModel, stream: false))
            #expect(refused.status == 400 && refused.json?["type"] as? String == "error")
            // Too little credit: Anthropic's billing error, not one to retry.
            let poor = try await h.user(credits: .zero)
            let broke = try await messages(h, poor.key, Self.body(model: Harness.anthropicModel, stream: false))
            #expect(broke.status == 429 && anthropicError(broke).type == "billing_error" && broke.headers.first(name: "x-should-retry") == "false")
        }
    }

    @Test func aStreamThatBreaksEndsWithAnthropicsErrorEvent() async throws {
        try await Harness.run { h in
            try await h.account(secret: "ant", provider: "mock-anthropic")
            h.control.set(.breakStream(afterChunks: 2), for: "ant")
            h.control.releaseGate()
            let user = try await h.user()
            let reply = try await messages(h, user.key, Self.body(model: Harness.anthropicModel, stream: true))
            let events = try events(reply)
            #expect(events.last?.event == "error" && !events.contains { $0.event == "message_stop" })
            try await NativeSchema.anthropic.expectValid([("error", try #require(events.last).data)])
            await h.settled()
            let log = try #require(try await h.gateway.store.usageLogs(userID: user.id).last)
            #expect(log.endReason == "upstream_error")
        }
    }

    func countTokens(_ h: Harness, _ key: String, _ body: String) async throws -> Harness.Reply {
        try await h.request("/v1/messages/count_tokens", body: body, key: nil, headers: [("x-api-key", key), ("anthropic-version", Self.version)])
    }

    static let countBody = #"{"model":"claude-mock","system":"Be brief.","messages":[{"role":"user","content":"What is the weather in Paris today?"}]}"#

    @Test func countTokensIsTheAnthropicAccountsOwnCountWithNoHoldOrCharge() async throws {
        try await Harness.run { h in
            try await h.account(secret: "ant", provider: "mock-anthropic")
            let user = try await h.user()
            let before = try await h.gateway.store.balance(userID: user.id)
            let reply = try await countTokens(h, user.key, Self.countBody)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply.json?["input_tokens"] as? Int == MockUpstream.countedTokens)
            let sent = try #require(h.control.requests.last)
            #expect(sent.path == "/v1/messages/count_tokens" && sent.body == Data(Self.countBody.utf8) && sent.anthropicVersion == Self.version)
            await h.settled()
            #expect(try await h.gateway.store.usageLogs(userID: user.id).isEmpty)
            #expect(try await h.gateway.store.balance(userID: user.id) == before)

            // The request's own fault, as the account said it.
            h.control.set(.fail(status: 400), for: "ant")
            let refused = try await countTokens(h, user.key, Self.countBody)
            #expect(refused.status == 400 && anthropicError(refused).type == "invalid_request_error")

            let unknown = try await countTokens(h, user.key, #"{"model":"nope","messages":[{"role":"user","content":"x"}]}"#)
            #expect(unknown.status == 404 && anthropicError(unknown).type == "not_found_error")
            let bad = try await countTokens(h, user.key, #"{"model":"claude-mock"}"#)
            #expect(bad.status == 400 && anthropicError(bad).type == "invalid_request_error")
        }
    }

    @Test func countTokensIsEstimatedWhenTheAccountCannotCountAndTheAccountIsNotBlamed() async throws {
        try await Harness.run { h in
            try await h.account(secret: "ant", provider: "mock-anthropic")
            try await h.account(secret: "chat")
            let user = try await h.user()
            // An account of another protocol is never asked: it would answer, not count.
            let chatBody = Self.countBody.replacingOccurrences(of: "claude-mock", with: Harness.model)
            let estimated = try await countTokens(h, user.key, chatBody)
            // 9 + 35 characters, about four a token, and the message's framing.
            #expect(estimated.status == 200 && estimated.json?["input_tokens"] as? Int == 11 + 3, "\(estimated.text)")
            #expect(h.control.requests.isEmpty)

            // An Anthropic account that cannot count now: estimated, and its answers still flow.
            h.control.script([.fail(status: 429), .succeed], for: "ant")
            let limited = try await countTokens(h, user.key, Self.countBody)
            #expect(limited.status == 200 && limited.json?["input_tokens"] as? Int == 11 + 3)
            let served = try await messages(h, user.key, Self.body(model: Harness.anthropicModel, stream: false))
            #expect(served.status == 200, "the count's 429 did not cool the account: \(served.text)")
        }
    }
}
