import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore
import Testing

@testable import SluiceProviders

/// OpenAI chat requests as Messages API requests, one mapping per test.
@Suite struct AnthropicRequestTests {
    func translate(_ body: String, defaultMaxTokens: Int = 8192, stream: Bool = false) throws -> [String: Any] {
        let data = try AnthropicRequest.translate(Data(body.utf8), model: "claude-sonnet-4-5", defaultMaxTokens: defaultMaxTokens, stream: stream)
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func rejection(_ body: String) -> GatewayError? {
        do {
            _ = try AnthropicRequest.translate(Data(body.utf8), model: "m", defaultMaxTokens: 1024, stream: false)
            return nil
        } catch { return error }
    }

    @Test func systemAndDeveloperMessagesBecomeTheSystemPromptAndRolesAlternate() throws {
        let out = try translate(#"""
            {"model":"claude-sonnet-4-5","messages":[
              {"role":"system","content":"Be brief."},{"role":"developer","content":[{"type":"text","text":"Use French."}]},
              {"role":"user","content":"Hi"},{"role":"user","content":"Still there?"},{"role":"assistant","content":"Oui."}]}
            """#)
        #expect(out["system"] as? [[String: String]] == [["type": "text", "text": "Be brief."], ["type": "text", "text": "Use French."]])
        let messages = try #require(out["messages"] as? [[String: Any]])
        #expect(messages.map { $0["role"] as? String } == ["user", "assistant"], "two user turns in a row are one")
        #expect((messages[0]["content"] as? [[String: String]])?.map { $0["text"] } == ["Hi", "Still there?"])
        #expect(out["model"] as? String == "claude-sonnet-4-5")
    }

    @Test func imagesFromDataAndHTTPURLs() throws {
        let out = try translate(#"""
            {"model":"m","messages":[{"role":"user","content":[
              {"type":"text","text":"What is this?"},
              {"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}},
              {"type":"image_url","image_url":{"url":"https://example.com/cat.jpg","detail":"high"}}]}]}
            """#)
        let blocks = try #require((out["messages"] as? [[String: Any]])?.first?["content"] as? [[String: Any]])
        #expect(blocks[1]["type"] as? String == "image")
        #expect(blocks[1]["source"] as? [String: String] == ["type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="])
        #expect(blocks[2]["source"] as? [String: String] == ["type": "url", "url": "https://example.com/cat.jpg"])
        #expect(rejection(#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"ftp://x"}}]}]}"#)?.param
            == "messages[0].content[0]")
    }

    @Test func toolsChoicesCallsAndResults() throws {
        let out = try translate(#"""
            {"model":"m","tool_choice":{"type":"function","function":{"name":"get_weather"}},"parallel_tool_calls":false,
             "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
             "messages":[{"role":"user","content":"Weather in Paris and Rome?"},
              {"role":"assistant","content":null,"tool_calls":[
                {"id":"toolu_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
                {"id":"toolu_2","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Rome\"}"}}]},
              {"role":"tool","tool_call_id":"toolu_1","content":"18C"},{"role":"tool","tool_call_id":"toolu_2","content":"24C"}]}
            """#)
        let tools = try #require(out["tools"] as? [[String: Any]])
        #expect(tools.first?["name"] as? String == "get_weather" && tools.first?["description"] as? String == "Weather")
        #expect((tools.first?["input_schema"] as? [String: Any])?["type"] as? String == "object")
        let choice = try #require(out["tool_choice"] as? [String: Any])
        #expect(choice["type"] as? String == "tool" && choice["name"] as? String == "get_weather")
        #expect(choice["disable_parallel_tool_use"] as? Bool == true)
        let messages = try #require(out["messages"] as? [[String: Any]])
        #expect(messages.map { $0["role"] as? String } == ["user", "assistant", "user"], "the two tool results are one user turn")
        let uses = try #require(messages[1]["content"] as? [[String: Any]])
        #expect(uses.map { $0["type"] as? String } == ["tool_use", "tool_use"])
        #expect(uses[0]["id"] as? String == "toolu_1" && uses[0]["input"] as? [String: String] == ["city": "Paris"])
        let results = try #require(messages[2]["content"] as? [[String: Any]])
        #expect(results.map { $0["tool_use_id"] as? String } == ["toolu_1", "toolu_2"])
        #expect(results.map { $0["content"] as? String } == ["18C", "24C"])

        for (openAI, anthropic) in [("\"auto\"", "auto"), ("\"none\"", "none"), ("\"required\"", "any")] {
            let mapped = try translate(#"{"model":"m","tool_choice":\#(openAI),"messages":[{"role":"user","content":"x"}]}"#)
            #expect((mapped["tool_choice"] as? [String: Any])?["type"] as? String == anthropic)
        }
        #expect(rejection(#"{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"a","type":"function","function":{"name":"f","arguments":"not json"}}]}]}"#)?.param
            == "messages[0].tool_calls[0].function.arguments")
    }

    @Test func limitsSamplingStopsUserAndStream() throws {
        let out = try translate(
            #"{"model":"m","max_completion_tokens":300,"max_tokens":100,"temperature":1.4,"top_p":0.9,"stop":"END","user":"u-42","messages":[{"role":"user","content":"x"}]}"#,
            stream: true)
        #expect(out["max_tokens"] as? Int == 300, "max_completion_tokens wins over max_tokens")
        #expect(out["temperature"] as? Double == 1, "OpenAI's range is 0-2, Anthropic's 0-1")
        #expect(out["top_p"] as? Double == 0.9)
        #expect(out["stop_sequences"] as? [String] == ["END"])
        #expect(out["metadata"] as? [String: String] == ["user_id": "u-42"])
        #expect(out["stream"] as? Bool == true)
        let defaulted = try translate(#"{"model":"m","stop":["a","b"],"messages":[{"role":"user","content":"x"}]}"#, defaultMaxTokens: 64000)
        #expect(defaulted["max_tokens"] as? Int == 64000, "Anthropic requires max_tokens: the manifest's limit")
        #expect(defaulted["stop_sequences"] as? [String] == ["a", "b"])
        #expect(defaulted["stream"] == nil)
        #expect(rejection(#"{"model":"m","n":2,"messages":[{"role":"user","content":"x"}]}"#)?.param == "n")
    }

    @Test func reasoningEffortBecomesAThinkingBudgetBelowMaxTokens() throws {
        let out = try translate(#"{"model":"m","reasoning_effort":"medium","temperature":0.2,"messages":[{"role":"user","content":"x"}]}"#)
        let thinking = try #require(out["thinking"] as? [String: Any])
        #expect(thinking["type"] as? String == "enabled" && thinking["budget_tokens"] as? Int == 4096)
        #expect(out["temperature"] == nil, "thinking fixes the sampling")
        let tight = try translate(#"{"model":"m","reasoning_effort":"high","max_tokens":2000,"messages":[{"role":"user","content":"x"}]}"#)
        #expect((tight["thinking"] as? [String: Any])?["budget_tokens"] as? Int == 1999)
        let tooTight = try translate(#"{"model":"m","reasoning_effort":"low","max_tokens":500,"messages":[{"role":"user","content":"x"}]}"#)
        #expect(tooTight["thinking"] == nil, "no room for Anthropic's minimum budget")
    }

    @Test func responseFormatsBecomeInstructions() throws {
        let object = try translate(#"{"model":"m","response_format":{"type":"json_object"},"messages":[{"role":"user","content":"x"}]}"#)
        #expect((object["system"] as? [[String: String]])?.last?["text"]?.contains("JSON object") == true)
        let schema = try translate(#"""
            {"model":"m","response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object","properties":{"a":{"type":"integer"}}}}},"messages":[{"role":"user","content":"x"}]}
            """#)
        #expect((schema["system"] as? [[String: String]])?.last?["text"]?.contains(#""properties":{"a":{"type":"integer"}}"#) == true)
    }

    @Test func thinkingBlocksOfAnEarlierTurnGoBackFirstAndSigned() throws {
        let out = try translate(#"""
            {"model":"m","messages":[{"role":"user","content":"x"},
              {"role":"assistant","content":"","thinking_blocks":[{"type":"thinking","thinking":"Let me see.","signature":"sig=="},{"type":"redacted_thinking","data":"enc"}],
               "tool_calls":[{"id":"toolu_9","type":"function","function":{"name":"f","arguments":""}}]},
              {"role":"tool","tool_call_id":"toolu_9","content":[{"type":"text","text":"done"}]}]}
            """#)
        let turn = try #require((out["messages"] as? [[String: Any]])?[1]["content"] as? [[String: Any]])
        #expect(turn.map { $0["type"] as? String } == ["thinking", "redacted_thinking", "tool_use"])
        #expect(turn[0]["signature"] as? String == "sig==" && turn[0]["thinking"] as? String == "Let me see.")
        #expect(turn[2]["input"] as? [String: String] == [:])
    }

    @Test func theUpstreamRequestNamesTheVersionBetaAndCredential() throws {
        let manifest = ProviderManifest(
            id: "anthropic", name: "Anthropic", baseURL: "https://api.anthropic.com", wireProtocol: .anthropicMessages, auth: .header("x-api-key"),
            models: [.init(id: "claude-sonnet-4-5", contextWindow: 200_000, maxOutputTokens: 64000, price: Price(inputUSD: "3", outputUSD: "15", cachedInputUSD: "0.3")!)])
        let adapter = AnthropicMessagesAdapter(manifest: manifest)
        let body = Data(#"{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"x"}]}"#.utf8)
        var request = GatewayRequest(body: ByteBuffer(data: body), bytes: body, summary: try ChatRequestSummary.parse(body), anthropicBeta: "prompt-caching-2024-07-31")
        let keyed = try adapter.upstreamRequest(for: request, to: UpstreamTarget(baseURL: manifest.baseURL, auth: manifest.auth, credential: .apiKey("sk-ant")))
        #expect(keyed.url == "https://api.anthropic.com/v1/messages")
        #expect(keyed.headers["x-api-key"] == ["sk-ant"] && keyed.headers["authorization"].isEmpty)
        #expect(keyed.headers["anthropic-version"] == ["2023-06-01"])
        #expect(keyed.headers["anthropic-beta"] == ["prompt-caching-2024-07-31"])
        request.anthropicBeta = nil
        let tokens = OAuthTokens(accessToken: "at", refreshToken: "rt", expiresAt: nil)
        let oauth = try adapter.upstreamRequest(for: request, to: UpstreamTarget(baseURL: manifest.baseURL, auth: manifest.auth, credential: .oauth(tokens)))
        #expect(oauth.headers["authorization"] == ["Bearer at"])
        #expect(oauth.headers["anthropic-beta"] == [AnthropicMessagesAdapter.oauthBeta])
        let sent = try #require(try JSONSerialization.jsonObject(with: Data(buffer: oauth.body)) as? [String: Any])
        #expect(sent["max_tokens"] as? Int == 64000)
    }
}
