import Foundation
import SluiceMockUpstream
import Testing

/// The official `anthropic` Python SDK, unchanged, against `/v1/messages` served by each kind of
/// account (`Tests/conformance/anthropic_sdk_messages.py`): passed through to an Anthropic one,
/// translated for an OpenAI-compatible and a Gemini one.
@Suite(.serialized) struct AnthropicSDKTests {
    @Test(arguments: [
        ("mock-anthropic", Harness.anthropicModel), ("mock", Harness.model), ("mock-gemini", Harness.geminiModel),
        ("mock-responses", Harness.responsesModel),
    ])
    func createStreamToolUseCountAndErrors(provider: String, model: String) async throws {
        try await Harness.run { h in
            try await h.account(secret: "sdk", provider: provider)
            h.control.script([.succeed, .toolCall, .succeed], for: "sdk")
            let user = try await h.user()
            let (status, output) = try await runPythonClient(
                Harness.repoRoot.appendingPathComponent("Tests/conformance/anthropic_sdk_messages.py"), arguments: [h.baseURL, user.key, model])
            #expect(status == 0, "\(output)")
            let result = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
            #expect(result["answer"] as? String == MockUpstream.reply)
            #expect(result["final"] as? String == MockUpstream.reply)
            // An Anthropic account counts; for the others, the gateway estimates.
            if provider == "mock-anthropic" { #expect(result["input_tokens"] as? Int == MockUpstream.countedTokens) }
            #expect((result["input_tokens"] as? Int ?? 0) > 0)
            #expect(result["errors"] as? [String: String] == [
                "authentication": "AuthenticationError", "not_found": "NotFoundError", "bad_request": "BadRequestError",
            ])
            // Three calls reached the account, and an Anthropic one's count; the refusals did not.
            #expect(h.control.requests.count == (provider == "mock-anthropic" ? 4 : 3))
        }
    }
}
