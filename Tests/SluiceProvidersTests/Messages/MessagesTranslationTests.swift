import Foundation
import NIOCore
import SluiceCore
import Testing
@testable import SluiceProviders

/// Anthropic Messages requests in chat form, and chat answers in Messages form, with bodies
/// written from Anthropic's and OpenAI's API references.
@Suite struct MessagesTranslationTests {
    func chat(_ body: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: MessagesToChat.translate(Data(body.utf8))) as? [String: Any])
    }

    func error(_ body: String) -> GatewayError? {
        do { _ = try MessagesToChat.translate(Data(body.utf8)); return nil } catch { return error }
    }

    @Test func systemTurnsImagesAndSamplingBecomeChat() throws {
        let out = try chat("""
            {"model":"m","max_tokens":100,"system":[{"type":"text","text":"Be brief."}],"temperature":0.5,"top_p":0.9,"top_k":5,
             "stop_sequences":["END"],"metadata":{"user_id":"u-1"},"stream":true,
             "messages":[{"role":"user","content":[{"type":"text","text":"What is this?"},
               {"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBOR"}},
               {"type":"image","source":{"type":"url","url":"https://example.com/a.png"}}]},
              {"role":"assistant","content":"A picture."},{"role":"user","content":"Thanks"}]}
            """)
        let messages = try #require(out["messages"] as? [[String: Any]])
        #expect(messages.map { $0["role"] as? String } == ["system", "user", "assistant", "user"])
        #expect(messages[0]["content"] as? String == "Be brief.")
        let parts = try #require(messages[1]["content"] as? [[String: Any]])
        #expect((parts[1]["image_url"] as? [String: String])?["url"] == "data:image/png;base64,iVBOR")
        #expect((parts[2]["image_url"] as? [String: String])?["url"] == "https://example.com/a.png")
        #expect(out["max_tokens"] as? Int == 100 && out["temperature"] as? Double == 0.5 && out["top_p"] as? Double == 0.9)
        #expect(out["stop"] as? [String] == ["END"] && out["user"] as? String == "u-1" && out["top_k"] == nil)
        #expect((out["stream_options"] as? [String: Bool]) == ["include_usage": true])
    }

    @Test func toolUsesAndResultsBecomeToolCallsAndToolMessages() throws {
        let out = try chat("""
            {"model":"m","max_tokens":100,"tools":[{"name":"get_weather","description":"Weather","input_schema":{"type":"object"}}],
             "tool_choice":{"type":"any","disable_parallel_tool_use":true},
             "messages":[{"role":"user","content":"Weather in Paris?"},
              {"role":"assistant","content":[{"type":"thinking","thinking":"hm","signature":"s"},{"type":"text","text":"Checking."},
                {"type":"tool_use","id":"toolu_1","name":"get_weather","input":{"city":"Paris"}}]},
              {"role":"user","content":[{"type":"tool_result","tool_use_id":"toolu_1","content":[{"type":"text","text":"Sunny"}]},
                {"type":"text","text":"And tomorrow?"}]}]}
            """)
        let messages = try #require(out["messages"] as? [[String: Any]])
        #expect(messages.map { $0["role"] as? String } == ["user", "assistant", "tool", "user"])
        #expect(messages[1]["content"] as? String == "Checking.", "thinking is Anthropic's alone")
        let call = try #require((messages[1]["tool_calls"] as? [[String: Any]])?.first)
        let function = try #require(call["function"] as? [String: String])
        #expect(call["id"] as? String == "toolu_1" && function["name"] == "get_weather")
        #expect(try JSONSerialization.jsonObject(with: Data(function["arguments"]!.utf8)) as? [String: String] == ["city": "Paris"])
        #expect(messages[2]["tool_call_id"] as? String == "toolu_1" && messages[2]["content"] as? String == "Sunny")
        let tool = try #require((out["tools"] as? [[String: Any]])?.first?["function"] as? [String: Any])
        #expect(tool["name"] as? String == "get_weather" && tool["parameters"] as? [String: String] == ["type": "object"])
        #expect(out["tool_choice"] as? String == "required" && out["parallel_tool_calls"] as? Bool == false)
    }

    @Test func toolChoicesAndThinkingBudgetsMap() throws {
        func choice(_ json: String) throws -> Any? { try chat(#"{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"x"}],"tool_choice":\#(json)}"#)["tool_choice"] }
        #expect(try choice(#"{"type":"auto"}"#) as? String == "auto")
        #expect(try choice(#"{"type":"none"}"#) as? String == "none")
        #expect((try choice(#"{"type":"tool","name":"f"}"#) as? [String: Any])?["function"] as? [String: String] == ["name": "f"])
        #expect(error(#"{"model":"m","max_tokens":9,"messages":[],"tool_choice":{"type":"maybe"}}"#)?.param == "tool_choice.type")
        for (budget, effort) in [(1024, "low"), (4096, "medium"), (20000, "high")] {
            let out = try chat(#"{"model":"m","max_tokens":30000,"messages":[{"role":"user","content":"x"}],"thinking":{"type":"enabled","budget_tokens":\#(budget)}}"#)
            #expect(out["reasoning_effort"] as? String == effort)
        }
    }

    @Test func whatChatCannotSayIsA400NamingTheBlock() {
        let document = error(#"{"model":"m","max_tokens":9,"messages":[{"role":"user","content":[{"type":"document","source":{}}]}]}"#)
        #expect(document?.status == 400 && document?.param == "messages.0.content.0")
        let server = error(#"{"model":"m","max_tokens":9,"messages":[{"role":"user","content":"x"}],"tools":[{"type":"web_search_20250305","name":"web_search"}]}"#)
        #expect(server?.param == "tools.0")
    }

    @Test func aCompletionBecomesAMessage() throws {
        let completion = #"""
            {"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"finish_reason":"tool_calls",
             "message":{"role":"assistant","content":"Checking.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]}}],
             "usage":{"prompt_tokens":30,"completion_tokens":7,"total_tokens":37}}
            """#
        let usage = TokenUsage(promptTokens: 30, completionTokens: 7, cachedPromptTokens: 10)
        let data = try #require(MessagesFromChat.message(fromCompletion: Data(completion.utf8), model: "gpt-4o", usage: usage))
        let message = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(message["id"] as? String == "msg_1" && message["type"] as? String == "message" && message["stop_reason"] as? String == "tool_use")
        let content = try #require(message["content"] as? [[String: Any]])
        #expect(content[0]["text"] as? String == "Checking." && content[1]["type"] as? String == "tool_use")
        #expect(content[1]["input"] as? [String: String] == ["city": "Paris"])
        #expect(message["usage"] as? [String: Int] == [
            "input_tokens": 20, "output_tokens": 7, "cache_read_input_tokens": 10, "cache_creation_input_tokens": 0,
        ])
        #expect(MessagesFromChat.message(fromCompletion: Data("<html>".utf8), model: "m", usage: nil) == nil)
    }

    /// Read in one pass over the bytes: arguments that are no object are an empty input, and a
    /// reply that is not a completion with a message is no answer.
    @Test func aCompletionIsReadWithoutATree() throws {
        let completion = #"""
            {"choices":[{"message":{"reasoning_content":"Hm.","content":"","tool_calls":[
                {"function":{"arguments":"{ \"a\" : [1, \"x  y\"] }","name":"f"},"id":"c1"},
                {"function":{"arguments":"[1]","name":"g"},"id":"c2"},{"function":{"name":"h"}}]},"finish_reason":"length"},
              {"message":"second choice"}]}
            """#
        let data = try #require(MessagesFromChat.message(fromCompletion: Data(completion.utf8), model: "fallback", usage: nil))
        let message = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(message["id"] as? String == "msg_sluice" && message["model"] as? String == "fallback" && message["stop_reason"] as? String == "max_tokens")
        let content = try #require(message["content"] as? [[String: Any]])
        #expect(content.map { $0["type"] as? String } == ["thinking", "tool_use", "tool_use", "tool_use"], "empty text is no block")
        let compact = try #require(String(data: data, encoding: .utf8))
        #expect(compact.contains(#""input":{"a":[1,"x  y"]}"#))
        #expect(content.dropFirst(2).map { $0["input"] as? [String: Any] }.allSatisfy { $0?.isEmpty == true })
        for body in [#"{"choices":[]}"#, #"{"choices":[{"message":"m"}]}"#, #"{"choices":[{"message":{}},1]}"#, #"{"id":"x"}"#] {
            #expect(MessagesFromChat.message(fromCompletion: Data(body.utf8), model: "m", usage: nil) == nil, "\(body)")
        }
    }

    func chunk(_ delta: String, finish: String? = nil) -> RelayedEvent {
        let finishJSON = finish.map { #""\#($0)""# } ?? "null"
        let data = #"{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":\#(delta),"finish_reason":\#(finishJSON)}]}"#
        return RelayedEvent(.output, ServerSentEvent(data: Data(data.utf8)))
    }

    @Test func chunksBecomeAnthropicsEventsInOrder() throws {
        var writer = MessagesStreamWriter(model: "gpt-4o")
        var out = ByteBuffer()
        _ = writer.write(chunk(#"{"role":"assistant","content":""}"#), to: &out)
        #expect(writer.write(chunk(#"{"content":"Let me check."}"#), to: &out))
        _ = writer.write(chunk(#"{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]}"#), to: &out)
        _ = writer.write(chunk(#"{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}"#), to: &out)
        _ = writer.write(chunk(#"{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}"#), to: &out)
        _ = writer.write(chunk("{}", finish: "tool_calls"), to: &out)
        let usage = TokenUsage(promptTokens: 20, completionTokens: 9)
        let usageChunk = #"{"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":20,"completion_tokens":9}}"#
        _ = writer.write(RelayedEvent(.usage(usage, hasChoices: false), ServerSentEvent(data: Data(usageChunk.utf8))), to: &out)
        writer.finish(to: &out)
        var parser = SSEParser()
        let events = try parser.feed(out.readableBytesView)
        #expect(events.map(\.event) == [
            "message_start", "content_block_start", "content_block_delta", "content_block_stop",
            "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop",
        ])
        let objects = events.map { (try? JSONSerialization.jsonObject(with: $0.data) as? [String: Any]) ?? [:] }
        #expect(objects.map { $0["type"] as? String } == events.map(\.event), "each event's type is its name")
        #expect(((objects[0]["message"] as? [String: Any])?["id"] as? String) == "msg_9")
        #expect((objects[4]["content_block"] as? [String: Any])?["id"] as? String == "call_1" && objects[4]["index"] as? Int == 1)
        let json = objects.compactMap { ($0["delta"] as? [String: Any])?["partial_json"] as? String }.joined()
        #expect(json == #"{"city":"Paris"}"#)
        #expect((objects[8]["delta"] as? [String: Any])?["stop_reason"] as? String == "tool_use")
        #expect((objects[8]["usage"] as? [String: Int])?["output_tokens"] == 9 && (objects[8]["usage"] as? [String: Int])?["input_tokens"] == 20)
    }

    @Test func aPassedThroughStreamIsReadForUsageAndItsEnd() {
        var translator = AnthropicPassThrough()
        var kinds: [StreamEventKind] = []
        let events = [
            ("message_start", #"{"type":"message_start","message":{"usage":{"input_tokens":12,"cache_read_input_tokens":100,"output_tokens":1}}}"#),
            ("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#),
            ("ping", #"{"type":"ping"}"#),
            ("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hi"}}"#),
            ("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":5}}"#),
            ("message_stop", #"{"type":"message_stop"}"#),
        ]
        for (name, data) in events {
            translator.translate(ServerSentEvent(event: name, data: Data(data.utf8)), needOutputCheck: true) { kinds.append($0.kind) }
        }
        #expect(kinds == [.other, .other, .other, .output, .usage(TokenUsage(promptTokens: 112, completionTokens: 5, cachedPromptTokens: 100), hasChoices: true), .done])
    }
}
