import Foundation
import SluiceCore
import SluiceMockUpstream
import SluiceStore
import Testing

/// `/v1/responses` through the official `openai` SDK, served through chat by each kind of account.
@Suite(.serialized) struct ResponsesAPITests {
    @Test(arguments: [("mock", Harness.model), ("mock-anthropic", Harness.anthropicModel), ("mock-gemini", Harness.geminiModel)])
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
