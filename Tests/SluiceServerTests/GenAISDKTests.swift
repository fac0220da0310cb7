import Foundation
import SluiceMockUpstream
import Testing

/// The official `google-genai` Python SDK, unchanged, against Sluice's Gemini routes served by
/// each kind of account (`Tests/conformance/genai_sdk_generate.py`).
@Suite(.serialized) struct GenAISDKTests {
    @Test(arguments: [
        ("mock-gemini", Harness.geminiModel), ("mock", Harness.model), ("mock-anthropic", Harness.anthropicModel),
        ("mock-responses", Harness.responsesModel),
    ])
    func generateStreamFunctionCallAndErrors(provider: String, model: String) async throws {
        try await Harness.run { h in
            try await h.account(secret: "sdk", provider: provider)
            h.control.script([.succeed, .succeed, .toolCall, .succeed], for: "sdk")
            let user = try await h.user()
            let (status, output) = try await runPythonClient(
                Harness.repoRoot.appendingPathComponent("Tests/conformance/genai_sdk_generate.py"), arguments: [h.baseURL, user.key, model])
            #expect(status == 0, "\(output)")
            let result = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
            #expect(result["answer"] as? String == MockUpstream.reply)
            #expect(result["streamed"] as? String == MockUpstream.reply)
            #expect(result["final"] as? String == MockUpstream.reply)
            let codes = result["errors"] as? [String: [Any]]
            #expect(codes?["unauthenticated"]?.first as? Int == 401 && codes?["not_found"]?.first as? Int == 404)
            #expect(h.control.requests.count == 4)
        }
    }
}
