import Foundation
import NIOCore
import SluiceCore
import Testing

@testable import SluiceProviders

/// Anthropic's answers, whole and streamed, as OpenAI's: bodies as Anthropic's API reference
/// shows them.
@Suite struct AnthropicAnswerTests {
    static let manifest = ProviderManifest(
        id: "anthropic", name: "Anthropic", baseURL: "https://api.anthropic.com", wireProtocol: .anthropicMessages, auth: .header("x-api-key"),
        models: [.init(id: "claude-sonnet-4-5", contextWindow: 200_000, maxOutputTokens: 64000, price: Price(inputUSD: "3", outputUSD: "15", cachedInputUSD: "0.3")!)])
    let adapter = AnthropicMessagesAdapter(manifest: Self.manifest)

    func json(_ data: Data) throws -> [String: Any] { try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]) }

    @Test func aWholeMessageBecomesACompletionWithTextToolCallsThinkingAndUsage() throws {
        let body = #"""
            {"id":"msg_01","type":"message","role":"assistant","model":"claude-sonnet-4-5","stop_reason":"tool_use","stop_sequence":null,
             "content":[{"type":"thinking","thinking":"Need the weather.","signature":"EqQB"},{"type":"text","text":"Let me check."},
                        {"type":"tool_use","id":"toolu_01","name":"get_weather","input":{"city":"Paris"}}],
             "usage":{"input_tokens":20,"output_tokens":30,"cache_read_input_tokens":100,"cache_creation_input_tokens":50}}
            """#
        let whole = try #require(adapter.readWhole(ByteBuffer(string: body)))
        #expect(whole.usage == TokenUsage(promptTokens: 170, completionTokens: 30, cachedPromptTokens: 100, cacheWriteTokens: 50))
        let completion = try json(Data(buffer: whole.body))
        #expect(completion["object"] as? String == "chat.completion" && completion["id"] as? String == "msg_01")
        let choice = try #require((completion["choices"] as? [[String: Any]])?.first)
        #expect(choice["finish_reason"] as? String == "tool_calls")
        let message = try #require(choice["message"] as? [String: Any])
        #expect(message["content"] as? String == "Let me check.")
        #expect(message["reasoning_content"] as? String == "Need the weather.")
        #expect((message["thinking_blocks"] as? [[String: String]])?.first?["signature"] == "EqQB")
        let call = try #require((message["tool_calls"] as? [[String: Any]])?.first)
        #expect(call["id"] as? String == "toolu_01")
        let function = try #require(call["function"] as? [String: String])
        #expect(function["name"] == "get_weather")
        #expect(try json(Data(try #require(function["arguments"]).utf8)) as? [String: String] == ["city": "Paris"])
        let usage = try #require(completion["usage"] as? [String: Any])
        #expect(usage["prompt_tokens"] as? Int == 170 && usage["total_tokens"] as? Int == 200)
        #expect((usage["prompt_tokens_details"] as? [String: Int]) == ["cached_tokens": 100, "cache_write_tokens": 50])
    }

    /// The answer is read in one pass and written without a tree: what it cannot be read as a
    /// message is no answer, and what a block leaves out gets the value the tree writer gave it.
    @Test func aToolOnlyMessageKeepsItsArgumentsCompactAndItsStringsWhole() throws {
        let body = #"""
            {"type":"message","content":[
               {"input": { "q" : "a \"quoted\" phrase,  with  spaces",
                           "n": [1, 2.5, true, null] }, "name":"search","type":"tool_use","id":"toolu_9"},
               {"type":"redacted_thinking","data":"opaque=="},
               {"type":"tool_use","name":"now","id":"toolu_10"},
               {"type":"server_tool_use","id":"srvtoolu_1","name":"web_search","input":{}}],
             "stop_reason":"tool_use","usage":{"input_tokens":7.0,"output_tokens":"many"}}
            """#
        let whole = try #require(adapter.readWhole(ByteBuffer(string: body)))
        #expect(whole.usage == TokenUsage(promptTokens: 7, completionTokens: 0), "5.0 counts as 5; a count that is no number as none")
        let completion = try json(Data(buffer: whole.body))
        #expect(completion["id"] as? String == "msg" && completion["model"] as? String == "")
        let message = try #require(((completion["choices"] as? [[String: Any]])?.first)?["message"] as? [String: Any])
        #expect(message["content"] is NSNull, "no text beside tool calls is null content")
        #expect((message["thinking_blocks"] as? [[String: String]]) == [["type": "redacted_thinking", "data": "opaque=="]])
        #expect(message["reasoning_content"] == nil)
        let calls = try #require(message["tool_calls"] as? [[String: Any]])
        #expect(calls.map { $0["id"] as? String } == ["toolu_9", "toolu_10"], "a server tool's block is not the client's call")
        let arguments = calls.map { ($0["function"] as? [String: String])?["arguments"] }
        #expect(arguments == [#"{"q":"a \"quoted\" phrase,  with  spaces","n":[1,2.5,true,null]}"#, "{}"])
    }

    @Test func whatIsNotAMessageWithBlocksIsNoAnswer() {
        for body in [
            #"{"type":"message","content":"text"}"#, #"{"type":"message","content":[{"type":"text","text":"a"},"b"]}"#,
            #"{"type":"message"}"#, #"{"type":"completion","content":[]}"#, #"{"type":"message","content":[]} x"#,
            #"{"type":"message","content":[{"type":"text","text":"a"}],}"#,
        ] {
            #expect(adapter.readWhole(ByteBuffer(string: body)) == nil, "\(body)")
        }
        #expect(adapter.readWhole(ByteBuffer(string: #"{"type":"message","content":[]}"#)) != nil)
    }

    @Test func stopReasonsMapToFinishReasons() {
        #expect(["end_turn", "stop_sequence", "max_tokens", "tool_use", "refusal", "pause_turn"].map(AnthropicAnswer.finishReason)
            == ["stop", "stop", "length", "tool_calls", "content_filter", "stop"])
    }

    @Test func anErrorInsideA200AndGarbageAreNotAnswers() {
        #expect(adapter.readWhole(ByteBuffer(string: #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#)) == nil)
        #expect(adapter.readWhole(ByteBuffer(string: "<html>login</html>")) == nil)
    }

    @Test func errorBodiesBecomeOpenAIErrorsAndFailuresAreClassified() throws {
        let body = ByteBuffer(string: #"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: too large"}}"#)
        let error = try json(Data(buffer: try #require(adapter.clientError(status: 400, body: body))))
        let inner = try #require(error["error"] as? [String: Any])
        #expect(inner["message"] as? String == "max_tokens: too large" && inner["type"] as? String == "invalid_request_error")
        #expect(adapter.clientError(status: 400, body: ByteBuffer(string: "nope")) == nil)
        #expect(adapter.assessFailure(status: 529, body: nil, model: "m") == adapter.assessFailure(status: 503, body: nil, model: "m"),
            "overloaded is the provider's state, like a 503")
        #expect(adapter.assessFailure(status: 429, body: nil, model: "m").failure == .rateLimited)
        // An account out of credit says so with a 400: the account leaves rotation, the client is not refused.
        let noCredit = Data(#"{"type":"error","error":{"type":"invalid_request_error","message":"Your credit balance is too low to access the Anthropic API."}}"#.utf8)
        #expect(!adapter.isRequestRejection(status: 400, body: noCredit))
        #expect(adapter.assessFailure(status: 400, body: noCredit, model: "m") == FailureAssessment(.quotaExhausted, .account))
        #expect(adapter.isRequestRejection(status: 400, body: Data(#"{"type":"error","error":{"type":"invalid_request_error","message":"max_tokens: too large"}}"#.utf8)))
    }

    // MARK: Streams

    func translate(_ events: [(String, String)], adapter: AnthropicMessagesAdapter? = nil) throws -> [RelayedEvent] {
        let body = Data(#"{"model":"claude-sonnet-4-5","stream":true,"messages":[{"role":"user","content":"x"}]}"#.utf8)
        let request = GatewayRequest(body: ByteBuffer(data: body), bytes: body, summary: try ChatRequestSummary.parse(body))
        var translator = (adapter ?? self.adapter).streamTranslator(for: request)
        var out: [RelayedEvent] = []
        for (name, data) in events {
            translator.translate(ServerSentEvent(event: name, data: Data(data.utf8)), needOutputCheck: true) { out.append($0) }
        }
        return out
    }

    func deltas(_ events: [RelayedEvent]) throws -> [[String: Any]] {
        try events.filter { $0.kind == .output || $0.kind == .other }.map { event in
            let chunk = try json(event.event.data)
            return try #require((chunk["choices"] as? [[String: Any]])?.first)
        }
    }

    @Test func aStreamOfTextToolUseAndThinkingBecomesOpenAIChunks() throws {
        let events = try translate([
            ("message_start", #"{"type":"message_start","message":{"id":"msg_02","type":"message","role":"assistant","model":"claude-sonnet-4-5","content":[],"stop_reason":null,"usage":{"input_tokens":25,"output_tokens":1,"cache_read_input_tokens":10}}}"#),
            ("ping", #"{"type":"ping"}"#),
            ("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}"#),
            ("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Hmm."}}"#),
            ("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"sig"}}"#),
            ("content_block_stop", #"{"type":"content_block_stop","index":0}"#),
            ("content_block_start", #"{"type":"content_block_start","index":1,"content_block":{"type":"text","text":""}}"#),
            ("content_block_delta", #"{"type":"content_block_delta","index":1,"delta":{"type":"text_delta","text":"Checking"}}"#),
            ("content_block_stop", #"{"type":"content_block_stop","index":1}"#),
            ("content_block_start", #"{"type":"content_block_start","index":2,"content_block":{"type":"tool_use","id":"toolu_1","name":"get_weather","input":{}}}"#),
            ("content_block_delta", #"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"{\"city\":"}}"#),
            ("content_block_delta", #"{"type":"content_block_delta","index":2,"delta":{"type":"input_json_delta","partial_json":"\"Paris\"}"}}"#),
            ("content_block_stop", #"{"type":"content_block_stop","index":2}"#),
            ("content_block_start", #"{"type":"content_block_start","index":3,"content_block":{"type":"tool_use","id":"toolu_2","name":"get_time","input":{}}}"#),
            ("content_block_stop", #"{"type":"content_block_stop","index":3}"#),
            ("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"tool_use","stop_sequence":null},"usage":{"output_tokens":42}}"#),
            ("message_stop", #"{"type":"message_stop"}"#),
        ])
        #expect(Set(try events.dropLast().map { try json($0.event.data)["id"] as? String }) == ["msg_02"], "one id throughout")
        #expect(events.last?.kind == .done)
        #expect(events.dropLast().last?.kind == .usage(TokenUsage(promptTokens: 35, completionTokens: 42, cachedPromptTokens: 10), hasChoices: false))

        let choices = try deltas(events)
        let delta = choices.map { $0["delta"] as? [String: Any] ?? [:] }
        #expect(delta.first?["role"] as? String == "assistant")
        #expect(delta.compactMap { $0["reasoning_content"] as? String } == ["Hmm."])
        #expect((delta.compactMap { $0["thinking_blocks"] as? [[String: String]] }.first)?.first?["signature"] == "sig")
        #expect(delta.compactMap { $0["content"] as? String }.joined() == "Checking")
        let calls = delta.compactMap { ($0["tool_calls"] as? [[String: Any]])?.first }
        #expect(calls.map { $0["index"] as? Int } == [0, 0, 0, 1], "each tool keeps its index")
        #expect(calls.compactMap { $0["id"] as? String } == ["toolu_1", "toolu_2"])
        #expect(calls.compactMap { ($0["function"] as? [String: Any])?["arguments"] as? String }.joined() == #"{"city":"Paris"}"#)
        #expect(choices.last?["finish_reason"] as? String == "tool_calls")
        #expect(events.first?.kind == .other && events.contains { $0.kind == .output })
    }

    @Test func anErrorEventIsAnError() throws {
        let events = try translate([("error", #"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#)])
        #expect(events.map(\.kind) == [.error])
    }
}
