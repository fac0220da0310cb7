import Foundation
import NIOCore
import NIOFoundationCompat
import SluiceCore
import Testing
@testable import SluiceProviders

/// The OpenAI chat adapter without a network: what it sends, and what it reads.
@Suite struct OpenAIChatAdapterTests {
    let adapter = OpenAIChatAdapter()
    let target = UpstreamTarget(baseURL: "https://api.example.com/v1/", auth: .bearer, credential: .apiKey("sk-up"))

    func request(_ json: String) throws -> GatewayRequest {
        let bytes = Data(json.utf8)
        return GatewayRequest(body: ByteBuffer(data: bytes), bytes: bytes, summary: try ChatRequestSummary.parse(bytes))
    }

    func text(_ buffer: ByteBuffer) -> String { String(buffer: buffer) }

    @Test func aWholeRequestGoesUpstreamByteForByte() throws {
        // Odd spacing and key order survive: nothing is re-encoded.
        let body = #"{ "messages":[{"role":"user","content":"hi"}],  "model":"m" }"#
        let call = adapter.upstreamRequest(for: try request(body), to: target)
        #expect(call.method == .POST)
        #expect(call.url == "https://api.example.com/v1/chat/completions")
        #expect(text(call.body) == body)
        #expect(call.headers["authorization"] == ["Bearer sk-up"])
        #expect(call.headers["accept"] == ["application/json"])
    }

    @Test func aStreamIsAskedForUsageWhetherOrNotTheClientWas() throws {
        let unasked = adapter.upstreamRequest(for: try request(#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#), to: target)
        #expect(text(unasked.body) == #"{"stream_options":{"include_usage":true},"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#)
        #expect(unasked.headers["accept"] == ["text/event-stream"])
        let asked = #"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}"#
        #expect(text(adapter.upstreamRequest(for: try request(asked), to: target).body) == asked)
    }

    @Test func eachCredentialGoesInItsOwnHeader() throws {
        let body = try request(#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#)
        func headers(_ auth: ProviderManifest.AuthStyle, _ credential: UpstreamCredential) -> [(String, String)] {
            let call = adapter.upstreamRequest(for: body, to: UpstreamTarget(baseURL: "http://h/v1", auth: auth, credential: credential))
            return call.headers.filter { ["authorization", "api-key", "cookie"].contains($0.name) }.map { ($0.name, $0.value) }
        }
        #expect(headers(.header("api-key"), .apiKey("k")).elementsEqual([("api-key", "k")], by: ==))
        #expect(headers(.bearer, .cookie("s=1")).elementsEqual([("cookie", "s=1")], by: ==))
        let tokens = OAuthTokens(accessToken: "at", refreshToken: "rt", expiresAt: nil)
        #expect(headers(.header("api-key"), .oauth(tokens)).elementsEqual([("authorization", "Bearer at")], by: ==))
    }

    @Test func aWholeAnswerIsReadWithItsUsageCachedTokensIncluded() {
        let body = #"{"id":"c","object":"chat.completion","usage":{"prompt_tokens":10,"completion_tokens":3,"prompt_tokens_details":{"cached_tokens":4}}}"#
        let whole = adapter.readWhole(ByteBuffer(string: body))
        #expect(whole?.usage == TokenUsage(promptTokens: 10, completionTokens: 3, cachedPromptTokens: 4))
        #expect(whole.map { text($0.body) } == body)
        #expect(adapter.readWhole(ByteBuffer(string: "<html>login</html>")) == nil)
    }

    @Test func streamEventsPassThroughAndAreReadForOutputUsageErrorsAndTheEnd() throws {
        let request = try #require(GatewayRequest.probe(model: "m"))
        var translator = adapter.streamTranslator(for: request)
        func read(_ data: String) -> StreamEventKind {
            var relayed: [RelayedEvent] = []
            translator.translate(ServerSentEvent(data: Data(data.utf8)), needOutputCheck: true) { relayed.append($0) }
            #expect(relayed.map(\.event.data) == [Data(data.utf8)], "the chunk goes on as it came")
            return relayed.first?.kind ?? .other
        }
        #expect(read("[DONE]") == .done)
        #expect(read(#"{"error":{"message":"overloaded"}}"#) == .error)
        #expect(read(#"{"choices":[{"delta":{"content":"hi"}}]}"#) == .output)
        #expect(read(#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":1}}"#)
            == .usage(TokenUsage(promptTokens: 5, completionTokens: 1), hasChoices: false))
    }

    @Test func onlyTheRequestsOwnFaultsPassThrough() {
        #expect([400, 413, 422].allSatisfy { adapter.isRequestRejection(status: $0, body: nil) })
        #expect(![200, 401, 402, 403, 404, 408, 429, 500, 503].contains { adapter.isRequestRejection(status: $0, body: nil) })
        #expect(adapter.assessFailure(status: 429, body: nil, model: "m") == FailureAssessment(.rateLimited, .model("m")))
    }

    @Test func theCatalogPicksTheAdapterByWireProtocol() throws {
        let manifest = ProviderManifest(id: "p", name: "P", baseURL: "https://x/v1", auth: .bearer, models: [])
        #expect(try ProviderCatalog([manifest]).adapter(for: manifest).wireProtocol == .openAIChat)
    }

    @Test func aProbeIsTheSmallestRequest() throws {
        let probe = try #require(GatewayRequest.probe(model: "gpt \"quoted\""))
        #expect(probe.summary.model == "gpt \"quoted\"" && probe.summary.maxOutputTokens == 1 && !probe.summary.stream)
    }
}
