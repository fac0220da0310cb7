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
            #expect(result["refused_param"] as? String == "previous_response_id")
            #expect(h.control.requests.count == 4)
            await h.settled()
            let logs = try await h.gateway.store.usageLogs(userID: user.id)
            #expect(logs.count == 4 && logs.allSatisfy { $0.clientProtocol == "openai-responses" && !$0.costEstimated })
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
