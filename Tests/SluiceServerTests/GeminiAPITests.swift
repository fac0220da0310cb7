import Foundation
import SluiceCore
import SluiceMockUpstream
import SluiceStore
import Testing

/// Gemini's own routes for Gemini's clients: passed through, byte for byte, to Gemini accounts,
/// translated for OpenAI-compatible and Anthropic ones; Google's error shape on every refusal.
@Suite struct GeminiAPITests {
    static let body = #"{"contents":[{"role":"user","parts":[{"text":"Hello there"}]}],"generationConfig":{"maxOutputTokens":256}}"#

    func generate(_ h: Harness, _ key: String, model: String, stream: Bool, body: String = Self.body, query: String = "") async throws -> Harness.Reply {
        let method = stream ? "streamGenerateContent?alt=sse" : "generateContent"
        let separator = stream ? "&" : "?"
        return try await h.request(
            "/v1beta/models/\(model):\(method)\(query.isEmpty ? "" : separator + query)", body: body, key: nil,
            headers: query.isEmpty ? [("x-goog-api-key", key)] : [])
    }

    func events(_ reply: Harness.Reply) throws -> [ServerSentEvent] {
        var parser = SSEParser()
        return try parser.feed(reply.body)
    }

    func text(_ objects: [Data]) -> String {
        objects.compactMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] }.flatMap { object in
            ((((object["candidates"] as? [[String: Any]])?.first?["content"] as? [String: Any])?["parts"] as? [[String: Any]]) ?? [])
                .compactMap { $0["text"] as? String }
        }.joined()
    }

    @Test func aGeminiAccountGetsTheClientsBodyAsItCame() async throws {
        try await Harness.run { h in
            try await h.account(secret: "gem", provider: "mock-gemini")
            let user = try await h.user()
            let whole = try await generate(h, user.key, model: Harness.geminiModel, stream: false)
            #expect(whole.status == 200, "\(whole.text)")
            let sent = try #require(h.control.requests.last)
            #expect(String(decoding: sent.body, as: UTF8.self) == Self.body, "byte for byte")
            #expect(text([whole.body]) == MockUpstream.reply)
            let streamed = try await generate(h, user.key, model: Harness.geminiModel, stream: true, query: "key=\(user.key)")
            #expect(streamed.status == 200, "\(streamed.text)")
            let events = try events(streamed)
            #expect(text(events.map(\.data)) == MockUpstream.reply)
            try await NativeSchema.gemini.expectValid([("response", whole.body)] + events.map { ("response", $0.data) })
            await h.settled()
            let logs = try await h.gateway.store.usageLogs(userID: user.id)
            #expect(logs.count == 2 && logs.allSatisfy { $0.usage.cachedPromptTokens == 100 && $0.clientProtocol == "gemini-generate-content" })
            #expect(logs.allSatisfy { $0.charged == Pricing(creditsPerUSD: Credits(whole: 1)).cost(of: $0.usage, at: Harness.geminiPrice) })
        }
    }

    @Test(arguments: [("mock", Harness.model), ("mock-anthropic", Harness.anthropicModel), ("mock-responses", Harness.responsesModel)])
    func anotherProtocolsAccountAnswersInGeminisShape(provider: String, model: String) async throws {
        try await Harness.run { h in
            try await h.account(secret: "other", provider: provider)
            let user = try await h.user()
            let whole = try await generate(h, user.key, model: model, stream: false)
            #expect(whole.status == 200, "\(whole.text)")
            #expect(text([whole.body]) == MockUpstream.reply)
            let streamed = try await generate(h, user.key, model: model, stream: true)
            let events = try events(streamed)
            #expect(text(events.map(\.data)) == MockUpstream.reply)
            let lastEvent = try #require(events.last)
            let last = try #require(try JSONSerialization.jsonObject(with: lastEvent.data) as? [String: Any])
            #expect(((last["candidates"] as? [[String: Any]])?.first?["finishReason"] as? String) == "STOP")
            #expect(((last["usageMetadata"] as? [String: Any])?["candidatesTokenCount"] as? Int ?? 0) > 0)
            try await NativeSchema.gemini.expectValid([("response", whole.body)] + events.map { ("response", $0.data) })
        }
    }

    @Test func aToolCallFromAnOpenAIAccountArrivesAsAWholeFunctionCall() async throws {
        try await Harness.run { h in
            try await h.account(secret: "tools")
            h.control.set(.toolCall, for: "tools")
            let user = try await h.user()
            let body = #"{"contents":[{"role":"user","parts":[{"text":"Weather in Paris?"}]}],"tools":[{"functionDeclarations":[{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}]}]}"#
            let events = try events(try await generate(h, user.key, model: Harness.model, stream: true, body: body))
            let calls = events.compactMap { try? JSONSerialization.jsonObject(with: $0.data) as? [String: Any] }.flatMap { object in
                ((((object["candidates"] as? [[String: Any]])?.first?["content"] as? [String: Any])?["parts"] as? [[String: Any]]) ?? [])
                    .compactMap { $0["functionCall"] as? [String: Any] }
            }
            #expect(calls.count == 1 && calls.first?["name"] as? String == "get_weather")
            #expect(calls.first?["args"] as? [String: String] == ["city": "Paris"])
            let lastSent = try #require(h.control.requests.last)
            let sent = try #require(try JSONSerialization.jsonObject(with: lastSent.body) as? [String: Any])
            #expect(((sent["tools"] as? [[String: Any]])?.first?["function"] as? [String: Any])?["name"] as? String == "get_weather")
        }
    }

    @Test func everyRefusalIsInGooglesShape() async throws {
        try await Harness.run { h in
            try await h.account(secret: "gem", provider: "mock-gemini")
            let user = try await h.user()
            func status(_ reply: Harness.Reply) -> String? { (reply.json?["error"] as? [String: Any])?["status"] as? String }
            let empty = try await generate(h, user.key, model: Harness.geminiModel, stream: false, body: #"{"contents":[]}"#)
            #expect(empty.status == 400 && status(empty) == "INVALID_ARGUMENT")
            let notJSON = try await generate(h, user.key, model: Harness.geminiModel, stream: false, body: "{nope")
            #expect(notJSON.status == 400 && status(notJSON) == "INVALID_ARGUMENT")
            let unknown = try await generate(h, user.key, model: "gemini-nope", stream: false)
            #expect(unknown.status == 404 && status(unknown) == "NOT_FOUND")
            let badKey = try await generate(h, "sk-wrong", model: Harness.geminiModel, stream: false)
            #expect(badKey.status == 401 && status(badKey) == "UNAUTHENTICATED")
            let badMethod = try await h.request("/v1beta/models/\(Harness.geminiModel):countTokens", body: Self.body, key: user.key)
            #expect(badMethod.status == 404 && status(badMethod) == "NOT_FOUND")
            try await NativeSchema.gemini.expectValid([empty, notJSON, unknown, badKey, badMethod].map { ("error", $0.body) })

            let list = try await h.request("/v1beta/models", method: .GET, key: nil, headers: [("x-goog-api-key", user.key)])
            let names = (list.json?["models"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
            #expect(names == ["models/\(Harness.geminiEmbeddingModel)", "models/\(Harness.geminiModel)"])
        }
    }
}
