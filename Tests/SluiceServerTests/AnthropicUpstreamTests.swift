import AsyncHTTPClient
import Foundation
import NIOCore
import SluiceCore
import SluiceMockUpstream
import SluiceServer
import SluiceStore
import Testing

/// OpenAI clients served by accounts that speak Anthropic's Messages API: the mock's
/// `/v1/messages`, reached through the `mock-anthropic` manifest.
@Suite struct AnthropicUpstreamTests {
    func chat(_ h: Harness, _ key: String, stream: Bool = false, extra: String = "") async throws -> Harness.Reply {
        try await h.request("/v1/chat/completions", body: Harness.chatBody(model: Harness.anthropicModel, stream: stream, extra: extra), key: key)
    }

    func anthropicAccount(_ h: Harness, _ secret: String, priority: Int = 0) async throws {
        try await h.account(secret: secret, priority: priority, provider: "mock-anthropic")
    }

    /// Every request Sluice sent upstream is a valid Messages API request, unknown keys refused.
    func expectValidUpstreamRequests(_ h: Harness, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await NativeSchema.anthropic.expectValid(h.control.requests.map { ("request", $0.body) }, sourceLocation: sourceLocation)
    }

    /// Calls the mock's `/v1/messages` directly, as Anthropic's API would be called.
    func callMock(_ h: Harness, key: String, stream: Bool) async throws -> (status: Int, body: Data) {
        var request = HTTPClientRequest(url: h.mockBaseURL + "/messages")
        request.method = .POST
        request.headers.add(name: "x-api-key", value: key)
        request.headers.add(name: "anthropic-version", value: "2023-06-01")
        request.body = .bytes(ByteBuffer(string: #"{"model":"claude-mock","max_tokens":100,"stream":\#(stream),"messages":[{"role":"user","content":"hi"}]}"#))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        return (Int(response.status.code), Data(buffer: try await response.body.collect(upTo: 1 << 20)))
    }

    @Test func theMocksAnswersAreValidAnthropicResponses() async throws {
        try await Harness.run { h in
            h.control.set(.toolCall, for: "tools")
            h.control.set(.inBandError, for: "broken")
            h.control.set(.fail(status: 429, retryAfter: "5"), for: "limited")
            var items: [(kind: String, body: Data)] = []
            let whole = try await callMock(h, key: "plain", stream: false)
            #expect(whole.status == 200)
            items.append(("message", whole.body))
            items.append(("message", try await callMock(h, key: "tools", stream: false).body))
            items.append(("error", try await callMock(h, key: "broken", stream: false).body))
            let limited = try await callMock(h, key: "limited", stream: false)
            #expect(limited.status == 429)
            items.append(("error", limited.body))
            for key in ["plain", "tools", "broken"] {
                var parser = SSEParser()
                let events = try parser.feed(try await callMock(h, key: key, stream: true).body)
                #expect(!events.isEmpty)
                items += events.map { ("event", $0.data) }
            }
            try await NativeSchema.anthropic.expectValid(items)
        }
    }

    @Test func aWholeAnswerIsAnOpenAICompletionChargedAtEachInputPrice() async throws {
        try await Harness.run { h in
            try await anthropicAccount(h, "ant-a")
            let user = try await h.user(credits: Credits(whole: 1))
            let reply = try await chat(h, user.key)
            #expect(reply.status == 200, "\(reply.text)")
            try await OpenAISchema.expectValid([("CreateChatCompletionResponse", reply.body)])
            let message = (reply.json?["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any]
            #expect(message?["content"] as? String == MockUpstream.reply)
            let usage = try #require(reply.json?["usage"] as? [String: Any])
            #expect(usage["prompt_tokens"] as? Int == 132 && (usage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int == 100)

            // What went upstream: Anthropic's endpoint, key header and version, and a max_tokens.
            let sent = try #require(h.control.requests.last)
            #expect(sent.apiKeyHeader == "ant-a" && sent.authorization == nil)
            let body = try #require(try JSONSerialization.jsonObject(with: sent.body) as? [String: Any])
            #expect(body["max_tokens"] as? Int == 4_000 && body["messages"] is [[String: Any]])
            try await expectValidUpstreamRequests(h)

            // 12 plain input tokens at 3, 100 read from the cache at 0.30, 20 written at 3.75, output at 15.
            await h.settled()
            let output = try #require(usage["completion_tokens"] as? Int)
            let cost = Credits(micros: Int64(12 * 3 + 30 + 75 + 15 * output))
            let log = try #require(try await h.gateway.store.usageLogs(userID: user.id).first)
            #expect(log.charged == cost && log.provider == "mock-anthropic")
            #expect(try await h.gateway.store.balance(userID: user.id) == Credits(whole: 1) - cost)
        }
    }

    @Test func aStreamedToolCallArrivesAsOpenAIChunks() async throws {
        try await Harness.run { h in
            try await anthropicAccount(h, "ant-tools")
            h.control.set(.toolCall, for: "ant-tools")
            let user = try await h.user()
            let (response, events) = try await h.streamEvents(
                user.key, model: Harness.anthropicModel, extra: #","stream_options":{"include_usage":true}"#)
            #expect(response.status == .ok)
            #expect(events.last == "[DONE]")
            let chunks = events.dropLast().map { Data($0.utf8) }
            try await OpenAISchema.expectValid(chunks.map { ("CreateChatCompletionStreamResponse", $0) })
            let objects = try chunks.map { try #require(try JSONSerialization.jsonObject(with: $0) as? [String: Any]) }
            #expect(Set(objects.compactMap { $0["id"] as? String }).count == 1, "one id throughout")
            let choices = objects.compactMap { ($0["choices"] as? [[String: Any]])?.first }
            let calls = choices.compactMap { (($0["delta"] as? [String: Any])?["tool_calls"] as? [[String: Any]])?.first }
            #expect(calls.first?["id"] as? String == "toolu_mock")
            #expect(calls.compactMap { ($0["function"] as? [String: Any])?["arguments"] as? String }.joined() == #"{"city":"Paris"}"#)
            #expect(choices.compactMap { $0["finish_reason"] as? String } == ["tool_calls"])
            let usage = try #require(objects.last?["usage"] as? [String: Any])
            #expect((usage["prompt_tokens_details"] as? [String: Any])?["cached_tokens"] as? Int == 100)
            try await expectValidUpstreamRequests(h)
        }
    }

    @Test func anErrorInsideA200FailsOverBeforeTheFirstByte() async throws {
        try await Harness.run { h in
            try await anthropicAccount(h, "ant-broken", priority: 10)
            try await anthropicAccount(h, "ant-good")
            h.control.set(.inBandError, for: "ant-broken")
            let user = try await h.user()
            let whole = try await chat(h, user.key)
            #expect(whole.status == 200, "\(whole.text)")
            let streamed = try await h.streamEvents(user.key, model: Harness.anthropicModel).1
            #expect(streamed.last == "[DONE]", "\(streamed)")
            #expect(h.control.requests.map(\.apiKeyHeader) == ["ant-broken", "ant-good", "ant-good"], "the broken account cooled after its failure")
        }
    }

    @Test func anthropicsRateLimitHeadersGiveHeadroomAndTheCooldownsEnd() async throws {
        try await Harness.run { h in
            let quota = try await h.account(secret: "ant-quota", provider: "mock-anthropic")
            h.control.reportQuota(remaining: 10, limit: 100, for: "ant-quota")
            let user = try await h.user()
            #expect(try await chat(h, user.key).status == 200)
            #expect(h.gateway.pool.liveState(quota).runtime.headroom == 0.1)

            // A 429 with no Retry-After cools the account until the exhausted limit's reset.
            h.control.set(.fail(status: 429), for: "ant-quota")
            h.control.reportQuota(remaining: 0, limit: 100, for: "ant-quota")
            let started = Date()
            #expect(try await chat(h, user.key).status == 429)
            let until = try #require(h.gateway.pool.cooldown(quota, scope: .model(Harness.anthropicModel))?.coolingUntil)
            #expect(until.timeIntervalSince(started) > 100, "cooled to the anthropic-ratelimit-requests-reset time")
        }
    }

    @Test func aRejectionIsTheProvidersMessageInOpenAIsShape() async throws {
        try await Harness.run { h in
            try await anthropicAccount(h, "ant-picky")
            h.control.set(.fail(status: 400), for: "ant-picky")
            let user = try await h.user()
            let reply = try await chat(h, user.key)
            #expect(reply.status == 400)
            #expect(reply.error?["message"] as? String == "mock upstream failure")
            try await OpenAISchema.expectValid([("ErrorResponse", reply.body)])
            // A request Anthropic cannot carry is refused before any account is called.
            let refused = try await chat(h, user.key, extra: #","n":3"#)
            #expect(refused.status == 400 && refused.error?["param"] as? String == "n")
            #expect(h.control.requests.count == 1)
        }
    }
}
