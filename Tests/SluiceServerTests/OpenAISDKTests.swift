import Foundation
import SluiceMockUpstream
import Testing

/// The official `openai` Python SDK, unchanged, holds a tool-using conversation through
/// accounts that speak other protocols (`Tests/conformance/openai_sdk_tools.py`).
@Suite struct OpenAISDKTests {
    @Test(arguments: [("mock-anthropic", Harness.anthropicModel), ("mock-gemini", Harness.geminiModel), ("mock-responses", Harness.responsesModel)])
    func aStreamedToolConversationThroughATranslatedAccount(provider: String, model: String) async throws {
        try await Harness.run { h in
            try await h.account(secret: "sdk", provider: provider)
            h.control.script([.toolCall, .succeed], for: "sdk")
            let user = try await h.user()
            let (status, output) = try await runPythonClient(
                Harness.repoRoot.appendingPathComponent("Tests/conformance/openai_sdk_tools.py"), arguments: [h.baseURL + "/v1", user.key, model])
            #expect(status == 0, "\(output)")
            let result = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
            #expect(result["answer"] as? String == MockUpstream.reply)
            #expect(result["cached_tokens"] as? Int == 100, "cache reads reach the client as cached_tokens")
            #expect(h.control.requests.count == 2)
        }
    }
}
