import Foundation
import SluiceCore
import SluiceMockUpstream
import SluiceStore
import Testing

/// `/v1/responses` through the official `openai` SDK, passed through to an account that speaks
/// Responses and served through chat by each other kind.
@Suite(.serialized) struct ResponsesAPITests {
    @Test(arguments: [
        ("mock-responses", Harness.responsesModel), ("mock", Harness.model), ("mock-anthropic", Harness.anthropicModel),
        ("mock-gemini", Harness.geminiModel),
    ])
    func createStreamAndAFunctionCallRoundTrip(provider: String, model: String) async throws {
        try await Harness.run { h in
            try await h.account(secret: "sdk", provider: provider)
            h.control.script([.succeed, .succeed, .toolCall, .succeed], for: "sdk")
            let user = try await h.user()
            let (status, output) = try await runPythonClient(
                Harness.repoRoot.appendingPathComponent("Tests/conformance/openai_sdk_responses.py"), arguments: [h.baseURL + "/v1", user.key, model])
            #expect(status == 0, "\(output)")
            let result = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
            #expect(result["answer"] as? String == MockUpstream.reply)
            #expect(result["streamed"] as? String == MockUpstream.reply)
            #expect(result["final"] as? String == MockUpstream.reply)
            #expect(result["continued"] as? String == MockUpstream.reply)
            #expect(result["refused_param"] as? String == "previous_response_id")
            #expect(h.control.requests.count == 6)
            await h.settled()
            let logs = try await h.gateway.store.usageLogs(userID: user.id)
            #expect(logs.count == 6 && logs.allSatisfy { $0.clientProtocol == "openai-responses" && !$0.costEstimated })
        }
    }

    @Test func anAccountThatSpeaksResponsesGetsTheBodyAsItCameAndAnswersAsItCame() async throws {
        try await Harness.run { h in
            try await h.account(secret: "native", provider: "mock-responses")
            let user = try await h.user()
            // Odd spacing and a field the gateway does not know: both reach the account untouched.
            let body = #"{ "model":"gpt-resp-mock",  "input":"Hello", "instructions":"Be brief.", "x_future_field":{"a":1} }"#
            let whole = try await respond(h, user.key, body)
            #expect(whole.status == 200, "\(whole.text)")
            #expect(h.control.requests.last?.body == Data(body.utf8))
            let id = try #require(whole.json?["id"] as? String)
            #expect(id.hasPrefix("resp_mock"), "the upstream's own response, not one the gateway wrote")
            try await NativeSchema.openAIResponses.expectValid([("response", whole.body)])

            // Continued: the kept conversation goes up as items before the new input, without the
            // id, which another account of the pool would not know.
            let continued = try await respond(h, user.key, #"{"model":"gpt-resp-mock","input":"And again?","previous_response_id":"\#(id)"}"#)
            #expect(continued.status == 200, "\(continued.text)")
            let continuedRequest = try #require(h.control.requests.last)
            let sent = try #require(try JSONSerialization.jsonObject(with: continuedRequest.body) as? [String: Any])
            #expect(sent["previous_response_id"] == nil)
            let items = try #require(sent["input"] as? [[String: Any]])
            #expect(items.map { $0["role"] as? String } == ["user", "assistant", "user"])
            #expect(items[0]["content"] as? String == "Hello" && items[2]["content"] as? String == "And again?")
            let answered = try #require((items[1]["content"] as? [[String: Any]])?.first?["text"] as? String)
            #expect(answered == MockUpstream.reply)

            // A stream passes event for event, names and sequence numbers as the account sent them.
            let streamed = try await respond(h, user.key, #"{"model":"gpt-resp-mock","input":"Hi","stream":true}"#)
            var parser = SSEParser()
            let events = try parser.feed(streamed.body)
            #expect(events.first?.event == "response.created" && events.last?.event == "response.completed")
            let sequence = events.compactMap { (try? JSONSerialization.jsonObject(with: $0.data) as? [String: Any])?["sequence_number"] as? Int }
            #expect(sequence == Array(0..<events.count))
            try await NativeSchema.openAIResponses.expectValid(events.map { ("event", $0.data) })
            let lastEvent = try #require(events.last)
            let completed = try #require(try JSONSerialization.jsonObject(with: lastEvent.data) as? [String: Any])
            let streamedID = try #require((completed["response"] as? [String: Any])?["id"] as? String)
            #expect(try await respond(h, user.key, #"{"model":"gpt-resp-mock","input":"more","previous_response_id":"\#(streamedID)"}"#).status == 200)

            await h.settled()
            let logs = try await h.gateway.store.usageLogs(userID: user.id)
            #expect(logs.count == 4)
            #expect(logs.allSatisfy { $0.clientProtocol == "openai-responses" && $0.upstreamProtocol == "openai-responses" && !$0.costEstimated })
            #expect(logs.allSatisfy { $0.usage.cachedPromptTokens == MockUpstream.responsesUsage.cached && $0.usage.completionTokens > 0 })
        }
    }

    @Test func chatClientsAreServedByAnAccountThatSpeaksResponses() async throws {
        try await Harness.run { h in
            try await h.account(secret: "native", provider: "mock-responses")
            let user = try await h.user()
            let body = Harness.chatBody(model: Harness.responsesModel, stream: false, extra: #","max_tokens":50,"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object"}}}]"#)
            let whole = try await h.request("/v1/chat/completions", body: body, key: user.key)
            #expect(whole.status == 200, "\(whole.text)")
            try await OpenAISchema.expectValid([("CreateChatCompletionResponse", whole.body)])
            let message = try #require((whole.json?["choices"] as? [[String: Any]])?.first?["message"] as? [String: Any])
            #expect(message["content"] as? String == MockUpstream.reply)
            let sentRequest = try #require(h.control.requests.last)
            let sent = try #require(try JSONSerialization.jsonObject(with: sentRequest.body) as? [String: Any])
            #expect(sent["max_output_tokens"] as? Int == 50 && sent["store"] as? Bool == false)
            try await NativeSchema.openAIResponses.expectValid([("request", sentRequest.body)])
            let tool = try #require((sent["tools"] as? [[String: Any]])?.first)
            #expect(tool["name"] as? String == "get_weather" && tool["strict"] as? Bool == false, "chat's tools are not strict unless asked")

            h.control.set(.toolCall, for: "native")
            let streamed = try await h.request("/v1/chat/completions", body: Harness.chatBody(model: Harness.responsesModel, stream: true), key: user.key)
            var parser = SSEParser()
            let chunks = try parser.feed(streamed.body).filter { $0.data != Data("[DONE]".utf8) }
            try await OpenAISchema.expectValid(chunks.map { ("CreateChatCompletionStreamResponse", $0.data) })
            let deltas = chunks.compactMap { (try? JSONSerialization.jsonObject(with: $0.data) as? [String: Any])?["choices"] as? [[String: Any]] }
                .compactMap { $0.first?["delta"] as? [String: Any] }
            let calls = deltas.compactMap { $0["tool_calls"] as? [[String: Any]] }.flatMap { $0 }
            #expect(calls.first?["id"] as? String == "call_mock")
            #expect(calls.compactMap { ($0["function"] as? [String: Any])?["arguments"] as? String }.joined() == #"{"city":"Paris"}"#)
            let finish = chunks.compactMap { ((try? JSONSerialization.jsonObject(with: $0.data) as? [String: Any])?["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }
            #expect(finish == ["tool_calls"])
            await h.settled()
            let logs = try await h.gateway.store.usageLogs(userID: user.id)
            #expect(logs.map(\.upstreamProtocol) == ["openai-responses", "openai-responses"] && logs.allSatisfy { !$0.costEstimated })
        }
    }

    @Test(arguments: [MockBehavior.garbage, .inBandError, .fail(status: 500)])
    func aBrokenAccountThatSpeaksResponsesFailsOverBeforeTheFirstByte(_ behavior: MockBehavior) async throws {
        try await Harness.run { h in
            try await h.account(secret: "broken", priority: 10, provider: "mock-responses")
            try await h.account(secret: "good", provider: "mock-responses")
            h.control.set(behavior, for: "broken")
            let user = try await h.user()
            for stream in [false, true] {
                let reply = try await respond(h, user.key, #"{"model":"gpt-resp-mock","input":"Hi","stream":\#(stream)}"#)
                #expect(reply.status == 200, "\(behavior) stream \(stream): \(reply.text)")
                #expect(reply.text.contains("Hello!"))
            }
        }
    }

    func respond(_ h: Harness, _ key: String, _ body: String) async throws -> Harness.Reply {
        try await h.request("/v1/responses", body: body, key: key)
    }

    @Test func aKeptResponseIsContinuedByItsKeyOnlyAndStoreFalseKeepsNothing() async throws {
        try await Harness.run { h in
            try await h.account(secret: "a")
            let owner = try await h.user()
            let other = try await h.user()
            let first = try await respond(h, owner.key, #"{"model":"gpt-test","instructions":"Be brief.","input":"Hello"}"#)
            let id = try #require(first.json?["id"] as? String)
            let continued = try await respond(h, owner.key, #"{"model":"gpt-test","input":"And again?","previous_response_id":"\#(id)"}"#)
            #expect(continued.status == 200, "\(continued.text)")
            // The kept conversation goes first, without the first request's instructions.
            let sent = try #require(h.control.requests.last)
            let messages = try #require((try JSONSerialization.jsonObject(with: sent.body) as? [String: Any])?["messages"] as? [[String: Any]])
            #expect(messages.map { $0["role"] as? String } == ["user", "assistant", "user"])
            #expect(messages[1]["content"] as? String == MockUpstream.reply && messages[2]["content"] as? String == "And again?")

            // A stream's answer is kept too, under the id its events carried.
            let streamed = try await respond(h, owner.key, #"{"model":"gpt-test","input":"Hi","stream":true}"#)
            var parser = SSEParser()
            let completed = try #require(try parser.feed(streamed.body).first { $0.event == "response.completed" })
            let completedResponse = (try JSONSerialization.jsonObject(with: completed.data) as? [String: Any])?["response"] as? [String: Any]
            let streamedID = try #require(completedResponse?["id"] as? String)
            #expect(try await respond(h, owner.key, #"{"model":"gpt-test","input":"more","previous_response_id":"\#(streamedID)"}"#).status == 200)

            // Another key cannot continue it; an answer asked not to be stored cannot be continued.
            let stranger = try await respond(h, other.key, #"{"model":"gpt-test","input":"x","previous_response_id":"\#(id)"}"#)
            #expect(stranger.status == 400 && stranger.error?["param"] as? String == "previous_response_id")
            let unkept = try await respond(h, owner.key, #"{"model":"gpt-test","input":"Forget this.","store":false}"#)
            let unkeptID = try #require(unkept.json?["id"] as? String)
            let refused = try await respond(h, owner.key, #"{"model":"gpt-test","input":"x","previous_response_id":"\#(unkeptID)"}"#)
            #expect(refused.status == 400 && refused.error?["param"] as? String == "previous_response_id")
        }
    }

    @Test func badInputNamesTheParameter() async throws {
        try await Harness.run { h in
            try await h.account(secret: "a")
            let user = try await h.user()
            for (body, param) in [
                (#"{"input":"x"}"#, "model"), (#"{"model":"gpt-test"}"#, "input"),
                (#"{"model":"gpt-test","input":[{"type":"web_search_call"}]}"#, "input[0].type"),
                (#"{"model":"gpt-test","input":"x","tools":[{"type":"web_search"}]}"#, "tools[0].type"),
                (#"{"model":"gpt-test","input":"x","previous_response_id":"resp_1"}"#, "previous_response_id"),
            ] {
                let reply = try await h.request("/v1/responses", body: body, key: user.key)
                #expect(reply.status == 400 && reply.error?["param"] as? String == param, "\(body): \(reply.text)")
            }
        }
    }
}
