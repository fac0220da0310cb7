import Foundation
import SluiceCore
import Testing

/// A bounded Schemathesis run against a gateway's own `/openapi.json`
/// (`Tests/conformance/fuzz_openapi.py`): no 5xx, every answer as the document describes it, and
/// no request the document allows refused as invalid. A finding fails with Schemathesis's report,
/// which shows the request to reproduce it.
@Suite struct OpenAPIFuzzTests {
    /// The model each `/v1` route asks for: one the mock serves in that route's protocol.
    static let models = [
        "/v1/chat/completions": Harness.model, "/v1/messages": Harness.anthropicModel, "/v1/messages/count_tokens": Harness.anthropicModel,
        "/v1/responses": Harness.responsesModel, "/v1/embeddings": Harness.embeddingModel, "/v1beta/models/{action}": Harness.geminiModel,
    ]

    @Test func requestsTheDocumentAllowsAreAnsweredAsItDescribes() async throws {
        // With payments on, against the fake Stripe, so their routes are in the document and fuzzed too.
        try await StripeHarness.run { s in
            let h = s.h
            for provider in ["mock", "mock-anthropic", "mock-gemini", "mock-responses"] { try await h.account(secret: "fuzz", provider: provider) }
            // Credits enough that no fuzzed request is refused for want of them.
            let keyOwner = try await h.user(credits: Credits(whole: 1_000_000))
            let user = try await h.signUp()
            let admin = try await h.signInAdmin()
            var environment = ProcessInfo.processInfo.environment
            environment["SLUICE_FUZZ_BASE_URL"] = h.baseURL
            environment["SLUICE_FUZZ_API_KEY"] = keyOwner.key
            environment["SLUICE_FUZZ_USER_TOKEN"] = user.access
            environment["SLUICE_FUZZ_ADMIN_TOKEN"] = admin.access
            environment["SLUICE_FUZZ_MODELS"] = String(decoding: try JSONSerialization.data(withJSONObject: Self.models), as: UTF8.self)

            let (status, output) = try await runPythonClient(
                Harness.repoRoot.appendingPathComponent("Tests/conformance/fuzz_openapi.py"), arguments: [], environment: environment,
                errors: nil, limit: .seconds(300))
            // The script fails a pass that sent no request, too.
            #expect(status == 0, "\(output)")
        }
    }
}
