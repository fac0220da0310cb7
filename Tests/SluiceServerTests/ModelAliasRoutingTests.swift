import Foundation
import SluiceCore
import SluiceMockUpstream
import SluiceStore
import Testing

/// A public model name served by an OpenAI, an Anthropic and a Gemini account: listed, served
/// under each target's own name, failed over across protocols, held at the dearest target and
/// charged at the one that served.
@Suite struct ModelAliasRoutingTests {
    static let alias = "smart"

    func run(_ body: (Harness) async throws -> Void) async throws {
        try await Harness.run(configure: { config in
            config.models.aliases = ModelAliases([
                ModelAlias(name: Self.alias, routing: .ordered, targets: [
                    .init(model: Harness.model), .init(model: Harness.anthropicModel), .init(model: Harness.geminiModel),
                ]),
            ])
        }) { h in
            try await h.account(secret: "oa", provider: "mock")
            try await h.account(secret: "an", provider: "mock-anthropic")
            try await h.account(secret: "ge", provider: "mock-gemini")
            try await body(h)
        }
    }

    func sentModel(_ record: MockRequestRecord) -> String? {
        (try? JSONSerialization.jsonObject(with: record.body) as? [String: Any])?["model"] as? String
    }

    @Test func anAliasIsListedAndServedUnderItsTargetsName() async throws {
        try await run { h in
            let user = try await h.user()
            let models = try await h.request("/v1/models", method: .GET, key: user.key)
            let listed = (models.json?["data"] as? [[String: Any]]) ?? []
            #expect(listed.contains { $0["id"] as? String == Self.alias && $0["owned_by"] as? String == "sluice" })
            let one = try await h.request("/v1/models/\(Self.alias)", method: .GET, key: user.key)
            #expect(one.status == 200)

            let reply = try await h.request("/v1/chat/completions", body: Harness.chatBody(model: Self.alias, stream: false), key: user.key)
            #expect(reply.status == 200, "\(reply.text)")
            // The first target served it, asked for by its own name.
            #expect(h.control.requests.map(sentModel) == [Harness.model])
            await h.settled()
            let log = try #require(try await h.gateway.store.usageLogs(userID: user.id).last)
            #expect(log.model == Self.alias && log.servedModel == Harness.model && log.provider == "mock")
            #expect(log.charged == Pricing(creditsPerUSD: Credits(whole: 1)).cost(of: log.usage, at: Harness.price))
        }
    }

    @Test func aStreamFailsOverAcrossProtocolsBeforeItsFirstByteAndIsChargedAtTheServingModel() async throws {
        try await run { h in
            h.control.set(.fail(status: 503), for: "oa")
            h.control.set(.fail(status: 529), for: "an")
            let user = try await h.user()
            let (response, events) = try await h.streamEvents(user.key, model: Self.alias, extra: #","stream_options":{"include_usage":true}"#)
            #expect(response.status == .ok)
            #expect(events.last == "[DONE]")
            try await OpenAISchema.expectValid(events.dropLast().map { ("CreateChatCompletionStreamResponse", Data($0.utf8)) })
            let text = events.dropLast().compactMap { event -> String? in
                let choice = ((try? JSONSerialization.jsonObject(with: Data(event.utf8)) as? [String: Any])?["choices"] as? [[String: Any]])?.first
                return (choice?["delta"] as? [String: Any])?["content"] as? String
            }.joined()
            #expect(text == MockUpstream.reply)

            // OpenAI's chat format, then Anthropic's Messages, then Gemini's generateContent (no model in its body).
            let sent = h.control.requests
            #expect(sent.count == 3)
            #expect(sent.map(sentModel) == [Harness.model, Harness.anthropicModel, nil])
            let gemini = try #require(try JSONSerialization.jsonObject(with: sent[2].body) as? [String: Any])
            #expect(gemini["contents"] is [[String: Any]] && sent[2].apiKeyHeader == "ge")

            await h.settled()
            let log = try #require(try await h.gateway.store.usageLogs(userID: user.id).last)
            #expect(log.model == Self.alias && log.servedModel == Harness.geminiModel && log.provider == "mock-gemini")
            #expect(log.usage.cachedPromptTokens > 0, "the mock reports cached input")
            #expect(log.charged == Pricing(creditsPerUSD: Credits(whole: 1)).cost(of: log.usage, at: Harness.geminiPrice))
            #expect(try await h.gateway.store.balance(userID: user.id) == Credits(whole: 10) - log.charged)
        }
    }

    @Test func theHoldIsAtTheDearestTargetsPrice() async throws {
        try await run { h in
            // Enough for the worst case of gemini-mock alone (8,000 tokens out at 10 USD per million),
            // not for the alias's (8,000 out at claude-mock's 15).
            let user = try await h.user(credits: Credits(micros: 100_000))
            let direct = try await h.request("/v1/chat/completions", body: Harness.chatBody(model: Harness.geminiModel, stream: false), key: user.key)
            #expect(direct.status == 200, "\(direct.text)")
            let viaAlias = try await h.request("/v1/chat/completions", body: Harness.chatBody(model: Self.alias, stream: false), key: user.key)
            #expect(viaAlias.status == 429 && viaAlias.error?["code"] as? String == "insufficient_quota", "\(viaAlias.text)")
        }
    }
}
