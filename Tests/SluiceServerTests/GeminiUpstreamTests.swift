import AsyncHTTPClient
import Foundation
import NIOCore
import SluiceCore
import SluiceMockUpstream
import SluiceServer
import SluiceStore
import Testing

/// OpenAI clients served by accounts that speak Gemini's `generateContent`: the mock's
/// `/v1beta/models/…`, reached through the `mock-gemini` manifest.
@Suite struct GeminiUpstreamTests {
    func chat(_ h: Harness, _ key: String, extra: String = "") async throws -> Harness.Reply {
        try await h.request("/v1/chat/completions", body: Harness.chatBody(model: Harness.geminiModel, stream: false, extra: extra), key: key)
    }

    func geminiAccount(_ h: Harness, _ secret: String, priority: Int = 0) async throws -> Int64 {
        try await h.account(secret: secret, priority: priority, provider: "mock-gemini")
    }

    func expectValidUpstreamRequests(_ h: Harness, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await NativeSchema.gemini.expectValid(h.control.requests.map { ("request", $0.body) }, sourceLocation: sourceLocation)
    }

    @Test func aWholeAnswerIsAnOpenAICompletionWithCachedInputAtItsPrice() async throws {
        try await Harness.run { h in
            _ = try await geminiAccount(h, "gem-a")
            let user = try await h.user(credits: Credits(whole: 1))
            let reply = try await chat(h, user.key, extra: #","max_tokens":50,"temperature":0.3"#)
            #expect(reply.status == 200, "\(reply.text)")
            try await OpenAISchema.expectValid([("CreateChatCompletionResponse", reply.body)])
            let message = (reply.json?["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any]
            #expect(message?["content"] as? String == MockUpstream.reply)
            let sent = try #require(h.control.requests.last)
            #expect(sent.apiKeyHeader == "gem-a")
            let body = try #require(try JSONSerialization.jsonObject(with: sent.body) as? [String: Any])
            #expect((body["generationConfig"] as? [String: Any])?["maxOutputTokens"] as? Int == 50)
            try await expectValidUpstreamRequests(h)

            // 12 uncached prompt tokens at 1.25 (15 µUSD), 100 cached at 0.125 (12.5), output at 10:
            // 27.5 + 10 per output token, rounded up to the micro-credit.
            await h.settled()
            let output = try #require((reply.json?["usage"] as? [String: Any])?["completion_tokens"] as? Int)
            let cost = Credits(micros: Int64(28 + 10 * output))
            let log = try #require(try await h.gateway.store.usageLogs(userID: user.id).first)
            #expect(log.usage == TokenUsage(promptTokens: 112, completionTokens: output, cachedPromptTokens: 100))
            #expect(log.charged == cost)
        }
    }

    @Test func aToolConversationStreamsAndItsSignatureGoesBack() async throws {
        try await Harness.run { h in
            _ = try await geminiAccount(h, "gem-tools")
            h.control.set(.toolCall, for: "gem-tools")
            let user = try await h.user()
            let tools = #","tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}]"#
            let (response, events) = try await h.streamEvents(
                user.key, model: Harness.geminiModel, extra: tools + #","stream_options":{"include_usage":true}"#)
            #expect(response.status == .ok)
            #expect(events.last == "[DONE]", "\(events)")
            let chunks = events.dropLast().map { Data($0.utf8) }
            try await OpenAISchema.expectValid(chunks.map { ("CreateChatCompletionStreamResponse", $0) })
            let objects = try chunks.map { try #require(try JSONSerialization.jsonObject(with: $0) as? [String: Any]) }
            let choices = objects.compactMap { ($0["choices"] as? [[String: Any]])?.first }
            let calls = choices.compactMap { (($0["delta"] as? [String: Any])?["tool_calls"] as? [[String: Any]])?.first }
            let call = try #require(calls.first)
            #expect(choices.compactMap { $0["finish_reason"] as? String } == ["tool_calls"])
            #expect((objects.last?["usage"] as? [String: Any])?["prompt_tokens"] as? Int == MockUpstream.geminiUsage.prompt)
            let id = try #require(call["id"] as? String)

            // The next turn sends the call back with its result: the signature reaches Gemini again.
            h.control.set(.succeed, for: "gem-tools")
            let turn = #"""
                ,"messages":[{"role":"user","content":"Weather in Paris?"},
                  {"role":"assistant","content":null,"tool_calls":[{"id":"\#(id)","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
                  {"role":"tool","tool_call_id":"\#(id)","content":"{\"celsius\":18}"}]
                """#
            let body = #"{"model":"\#(Harness.geminiModel)"\#(turn)\#(tools)}"#
            #expect(try await h.request("/v1/chat/completions", body: body, key: user.key).status == 200)
            let last = try #require(h.control.requests.last)
            let sent = try #require(try JSONSerialization.jsonObject(with: last.body) as? [String: Any])
            let contents = try #require(sent["contents"] as? [[String: Any]])
            let callPart = try #require((contents[1]["parts"] as? [[String: Any]])?.first)
            #expect(callPart["thoughtSignature"] as? String == MockUpstream.geminiSignature)
            let result = try #require(((contents[2]["parts"] as? [[String: Any]])?.first)?["functionResponse"] as? [String: Any])
            #expect(result["name"] as? String == "get_weather" && result["response"] as? [String: Int] == ["celsius": 18])
            try await expectValidUpstreamRequests(h)
        }
    }

    @Test func failuresFailOverAndA429CoolsUntilItsRetryDelay() async throws {
        try await Harness.run { h in
            let limited = try await geminiAccount(h, "gem-limited", priority: 20)
            _ = try await geminiAccount(h, "gem-broken", priority: 10)
            _ = try await geminiAccount(h, "gem-good")
            h.control.set(.fail(status: 429, retryAfter: "120"), for: "gem-limited")
            h.control.set(.inBandError, for: "gem-broken")
            let user = try await h.user()
            let started = Date()
            #expect(try await chat(h, user.key).status == 200)
            #expect(h.control.requests.map(\.apiKeyHeader) == ["gem-limited", "gem-broken", "gem-good"])
            let until = try #require(h.gateway.pool.cooldown(limited, scope: .model(Harness.geminiModel))?.coolingUntil)
            #expect(until.timeIntervalSince(started) > 100, "cooled for the error body's retryDelay")
        }
    }

    @Test func aStreamCutShortBeforeItsFinishReasonEndsWithAnError() async throws {
        try await Harness.run { h in
            _ = try await geminiAccount(h, "gem-cut")
            h.control.set(.breakStream(afterChunks: 3), for: "gem-cut")
            let user = try await h.user()
            let events = try await h.streamEvents(user.key, model: Harness.geminiModel).1
            #expect(events.last?.contains("upstream_error") == true && !events.contains("[DONE]"), "\(events)")
        }
    }

    @Test func theMocksAnswersAreValidGeminiResponses() async throws {
        try await Harness.run { h in
            h.control.set(.toolCall, for: "tools")
            h.control.set(.fail(status: 429, retryAfter: "5"), for: "limited")
            func call(_ key: String, stream: Bool) async throws -> (status: Int, body: Data) {
                let method = stream ? "streamGenerateContent?alt=sse" : "generateContent"
                var request = HTTPClientRequest(url: h.mockBaseURL.replacingOccurrences(of: "/v1", with: "/v1beta") + "/models/gemini-mock:\(method)")
                request.method = .POST
                request.headers.add(name: "x-goog-api-key", value: key)
                request.body = .bytes(ByteBuffer(string: #"{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}"#))
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                return (Int(response.status.code), Data(buffer: try await response.body.collect(upTo: 1 << 20)))
            }
            var items: [(kind: String, body: Data)] = [("response", try await call("plain", stream: false).body), ("response", try await call("tools", stream: false).body)]
            let limited = try await call("limited", stream: false)
            #expect(limited.status == 429)
            items.append(("error", limited.body))
            for key in ["plain", "tools"] {
                var parser = SSEParser()
                let events = try parser.feed(try await call(key, stream: true).body)
                #expect(!events.isEmpty)
                items += events.map { ("response", $0.data) }
            }
            try await NativeSchema.gemini.expectValid(items)
        }
    }
}
