import Foundation
import SluiceCore
import SluiceMockUpstream
import SluiceStore
import Testing

/// `/v1/embeddings` through the official `openai` SDK: passed through to an OpenAI-compatible
/// account, translated to Gemini's `batchEmbedContents`, charged by input tokens.
@Suite(.serialized) struct EmbeddingsTests {
    @Test(arguments: [("mock", Harness.embeddingModel), ("mock-gemini", Harness.geminiEmbeddingModel)])
    func theSDKGetsFloatsAndBase64AndIsChargedByInput(provider: String, model: String) async throws {
        try await Harness.run { h in
            try await h.account(secret: "emb", provider: provider)
            let user = try await h.user()
            let (status, output) = try await runPythonClient(
                Harness.repoRoot.appendingPathComponent("Tests/conformance/openai_sdk_embeddings.py"), arguments: [h.baseURL + "/v1", user.key, model])
            #expect(status == 0, "\(output)")
            let result = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
            let vector = MockUpstream.vector.map(Double.init)
            #expect(result["float"] as? [Double] == vector)
            #expect(result["base64"] as? [[Double]] == [vector, vector], "the SDK decoded Sluice's base64")
            #expect(result["indexes"] as? [Int] == [0, 1] && result["not_found"] as? Int == 404)
            if provider == "mock-gemini" {
                let last = try #require(h.control.requests.last)
                let sent = try #require(try JSONSerialization.jsonObject(with: last.body) as? [String: Any])
                #expect((sent["requests"] as? [[String: Any]])?.count == 2)
            }
            await h.settled()
            let logs = try await h.gateway.store.usageLogs(userID: user.id)
            #expect(logs.count == 2 && logs.allSatisfy { $0.clientProtocol == "openai-embeddings" && $0.usage.completionTokens == 0 })
            if provider == "mock" { #expect(logs.last?.usage.promptTokens == 2 * MockUpstream.tokensPerInput) }
            #expect(logs.allSatisfy { $0.charged == Pricing(creditsPerUSD: Credits(whole: 1)).cost(of: $0.usage, at: Harness.embeddingPrice) })
        }
    }

    @Test func badInputNamesTheParameter() async throws {
        try await Harness.run { h in
            try await h.account(secret: "emb")
            let user = try await h.user()
            for (body, param) in [(#"{"input":"x"}"#, "model"), (#"{"model":"embed-test"}"#, "input"), (#"{"model":"embed-test","input":[]}"#, "input")] {
                let reply = try await h.request("/v1/embeddings", body: body, key: user.key)
                #expect(reply.status == 400 && reply.error?["param"] as? String == param, "\(body): \(reply.text)")
            }
        }
    }
}
