import Foundation
import NIOCore
import SluiceCore
import Testing

@testable import SluiceProviders

/// Accounts that speak OpenAI's Responses API: chat requests translated up, answers and streams
/// translated back, a Responses client's own body and events passed through, and the kept
/// conversation of `previous_response_id`. Bodies as OpenAI's API reference shows them.
@Suite struct ResponsesAdapterTests {
    let adapter = OpenAIResponsesAdapter()
    let target = UpstreamTarget(baseURL: "https://api.openai.com/v1", auth: .bearer, credential: .apiKey("sk-up"))

    func json(_ data: Data) throws -> [String: Any] { try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]) }

    func chatRequest(_ body: String) throws -> GatewayRequest {
        let bytes = Data(body.utf8)
        return GatewayRequest(body: ByteBuffer(data: bytes), bytes: bytes, summary: try ChatRequestSummary.parse(bytes))
    }

    func responsesRequest(_ body: String) throws -> GatewayRequest {
        let bytes = Data(body.utf8)
        return GatewayRequest(body: ByteBuffer(data: bytes), bytes: bytes, summary: try ChatRequestSummary.parseResponses(bytes), clientProtocol: .openAIResponses)
    }

    @Test func aChatRequestBecomesAResponsesRequest() throws {
        let request = try chatRequest(#"""
            {"model":"gpt-5","stream":true,"max_completion_tokens":300,"reasoning_effort":"low","tool_choice":{"type":"function","function":{"name":"get_weather"}},
             "response_format":{"type":"json_schema","json_schema":{"name":"w","schema":{"type":"object"},"strict":true}},
             "tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object"}}}],
             "messages":[{"role":"system","content":"Be brief."},
                         {"role":"user","content":[{"type":"text","text":"Look:"},{"type":"image_url","image_url":{"url":"https://x/cat.png","detail":"low"}}]},
                         {"role":"assistant","content":"Checking.","tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}}]},
                         {"role":"tool","tool_call_id":"call_1","content":"Sunny"},
                         {"role":"system","content":"Answer in French."}]}
            """#)
        let upstream = try adapter.upstreamRequest(for: request, to: target)
        #expect(upstream.url == "https://api.openai.com/v1/responses" && upstream.headers["authorization"] == ["Bearer sk-up"])
        #expect(upstream.headers["accept"] == ["text/event-stream"])
        let out = try json(Data(buffer: upstream.body))
        #expect(out["instructions"] as? String == "Be brief." && out["stream"] as? Bool == true && out["store"] as? Bool == false)
        #expect(out["max_output_tokens"] as? Int == 300 && (out["reasoning"] as? [String: String]) == ["effort": "low"])
        #expect((out["tool_choice"] as? [String: String]) == ["type": "function", "name": "get_weather"])
        let format = try #require((out["text"] as? [String: Any])?["format"] as? [String: Any])
        #expect(format["type"] as? String == "json_schema" && format["name"] as? String == "w" && format["strict"] as? Bool == true)
        let tool = try #require((out["tools"] as? [[String: Any]])?.first)
        #expect(tool["name"] as? String == "get_weather" && tool["description"] as? String == "Weather" && tool["strict"] as? Bool == false)
        let input = try #require(out["input"] as? [[String: Any]])
        #expect(input.map { $0["type"] as? String } == ["message", "message", "function_call", "function_call_output", "message"])
        let parts = try #require(input[0]["content"] as? [[String: String]])
        #expect(parts == [["type": "input_text", "text": "Look:"], ["type": "input_image", "image_url": "https://x/cat.png", "detail": "low"]])
        #expect(((input[1]["content"] as? [[String: String]])?.first) == ["type": "output_text", "text": "Checking."])
        #expect(input[2]["call_id"] as? String == "call_1" && input[2]["arguments"] as? String == #"{"city":"Paris"}"#)
        #expect(input[3]["call_id"] as? String == "call_1" && input[3]["output"] as? String == "Sunny")
        // A system turn after the conversation began stays in its place.
        #expect(input[4]["role"] as? String == "developer" && input[4]["content"] as? String == "Answer in French.")
    }

    @Test func whatResponsesCannotCarryIsA400NamingTheParameter() throws {
        for (body, param) in [
            (#"{"model":"m","n":2,"messages":[{"role":"user","content":"x"}]}"#, "n"),
            (#"{"model":"m","messages":[{"role":"function","content":"x"}]}"#, "messages[0].role"),
            (#"{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio"}]}]}"#, "messages[0].content[0].type"),
            (#"{"model":"m","messages":[{"role":"user","content":"x"}],"tools":[{"type":"custom"}]}"#, "tools[0]"),
        ] {
            do {
                _ = try adapter.upstreamRequest(for: try chatRequest(body), to: target)
                Issue.record("\(body) was sent")
            } catch let error as GatewayError { #expect(error.param == param && error.status == 400, "\(body)") }
        }
    }

    static let response = #"""
        {"id":"resp_1","object":"response","created_at":1741476542,"status":"completed","model":"gpt-5","output":[
          {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"Weather needed."}]},
          {"type":"message","id":"msg_1","status":"completed","role":"assistant","content":[{"type":"output_text","text":"Let me check.","annotations":[]}]},
          {"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather","arguments":"{\"city\":\"Paris\"}","status":"completed"}],
         "usage":{"input_tokens":120,"input_tokens_details":{"cached_tokens":100},"output_tokens":30,"output_tokens_details":{"reasoning_tokens":10},"total_tokens":150}}
        """#

    @Test func aWholeResponseBecomesACompletionWithTextCallsReasoningAndUsage() throws {
        let whole = try #require(adapter.readWhole(ByteBuffer(string: Self.response)))
        #expect(whole.usage == TokenUsage(promptTokens: 120, completionTokens: 30, cachedPromptTokens: 100))
        let completion = try json(Data(buffer: whole.body))
        #expect(completion["object"] as? String == "chat.completion" && completion["created"] as? Int == 1741476542)
        let choice = try #require((completion["choices"] as? [[String: Any]])?.first)
        #expect(choice["finish_reason"] as? String == "tool_calls")
        let message = try #require(choice["message"] as? [String: Any])
        #expect(message["content"] as? String == "Let me check." && message["reasoning_content"] as? String == "Weather needed.")
        let call = try #require((message["tool_calls"] as? [[String: Any]])?.first)
        #expect(call["id"] as? String == "call_1" && (call["function"] as? [String: String])?["name"] == "get_weather")
        #expect(((completion["usage"] as? [String: Any])?["prompt_tokens_details"] as? [String: Int])?["cached_tokens"] == 100)

        let cut = Self.response.replacingOccurrences(of: #""status":"completed","model""#, with: #""status":"incomplete","incomplete_details":{"reason":"max_output_tokens"},"model""#)
            .replacingOccurrences(of: #",{"type":"function_call""#, with: #",{"type":"x""#)
        let cutWhole = try #require(adapter.readWhole(ByteBuffer(string: cut)))
        let cutChoice = try #require((try json(Data(buffer: cutWhole.body))["choices"] as? [[String: Any]])?.first)
        #expect(cutChoice["finish_reason"] as? String == "length")
    }

    @Test func aFailedResponseAnErrorAndGarbageAreNotAnswers() {
        let failed = Self.response.replacingOccurrences(of: #""status":"completed","model""#, with: #""status":"failed","model""#)
        #expect(adapter.readWhole(ByteBuffer(string: failed)) == nil)
        #expect(adapter.readWhole(ByteBuffer(string: #"{"error":{"message":"overloaded","type":"server_error"}}"#)) == nil)
        #expect(adapter.readWhole(ByteBuffer(string: "<html>login</html>")) == nil)
    }

    @Test func aResponsesClientsBodyAndAnswerPassAsTheyCame() throws {
        let body = #"{ "model":"gpt-5", "input":"Hi", "x_new":true }"#
        let request = try responsesRequest(body)
        let upstream = try adapter.upstreamRequest(for: request, to: target)
        #expect(Data(buffer: upstream.body) == Data(body.utf8))
        let whole = try #require(adapter.readWhole(ByteBuffer(string: Self.response), for: request))
        #expect(Data(buffer: whole.body) == Data(Self.response.utf8) && whole.usage?.cachedPromptTokens == 100)
    }

    func translate(_ events: [(String, String)], for request: GatewayRequest) -> [RelayedEvent] {
        var translator = adapter.streamTranslator(for: request)
        var out: [RelayedEvent] = []
        for (name, data) in events {
            translator.translate(ServerSentEvent(event: name, data: Data(data.utf8)), needOutputCheck: true) { out.append($0) }
        }
        return out
    }

    static let streamEvents = [
        ("response.created", #"{"type":"response.created","sequence_number":0,"response":{"id":"resp_9","status":"in_progress","output":[]}}"#),
        ("response.output_item.added", #"{"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"type":"message","id":"msg_1","role":"assistant","content":[]}}"#),
        ("response.output_text.delta", #"{"type":"response.output_text.delta","sequence_number":2,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hel"}"#),
        ("response.output_text.delta", #"{"type":"response.output_text.delta","sequence_number":3,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"lo"}"#),
        ("response.output_item.added", #"{"type":"response.output_item.added","sequence_number":4,"output_index":1,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"get_weather","arguments":""}}"#),
        ("response.function_call_arguments.delta", #"{"type":"response.function_call_arguments.delta","sequence_number":5,"item_id":"fc_1","output_index":1,"delta":"{\"city\":"}"#),
        ("response.function_call_arguments.delta", #"{"type":"response.function_call_arguments.delta","sequence_number":6,"item_id":"fc_1","output_index":1,"delta":"\"Paris\"}"}"#),
        ("response.completed", #"{"type":"response.completed","sequence_number":7,"response":{"id":"resp_9","status":"completed","output":[],"usage":{"input_tokens":20,"input_tokens_details":{"cached_tokens":5},"output_tokens":9,"total_tokens":29}}}"#),
    ]

    @Test func aStreamBecomesChunksWithTextToolCallsTheFinishAndUsage() throws {
        let out = translate(Self.streamEvents, for: try chatRequest(#"{"model":"gpt-5","stream":true,"messages":[{"role":"user","content":"x"}]}"#))
        let chunks = try out.filter { $0.kind != .done }.map { try json($0.event.data) }
        #expect(chunks.allSatisfy { $0["id"] as? String == "chatcmpl-resp_9" && $0["object"] as? String == "chat.completion.chunk" })
        let deltas = chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any] }
        #expect(deltas.compactMap { $0["content"] as? String } == ["", "Hel", "lo"])
        let calls = deltas.compactMap { ($0["tool_calls"] as? [[String: Any]])?.first }
        #expect(calls.first?["id"] as? String == "call_1" && calls.allSatisfy { $0["index"] as? Int == 0 })
        #expect(calls.compactMap { ($0["function"] as? [String: Any])?["arguments"] as? String }.joined() == #"{"city":"Paris"}"#)
        #expect(chunks.compactMap { ($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String } == ["tool_calls"])
        #expect(out.map(\.kind).suffix(2) == [.usage(TokenUsage(promptTokens: 20, completionTokens: 9, cachedPromptTokens: 5), hasChoices: false), .done])
        #expect(out.first?.kind == .other && out.dropFirst().prefix(2).allSatisfy { $0.kind == .output })

        let failed = translate([("response.failed", #"{"type":"response.failed","response":{"status":"failed"}}"#)], for: try chatRequest(#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#))
        #expect(failed.map(\.kind) == [.error])
    }

    @Test func aPassedThroughStreamIsReadForOutputUsageErrorsAndTheEnd() throws {
        let request = try responsesRequest(#"{"model":"gpt-5","input":"x","stream":true}"#)
        let out = translate(Self.streamEvents + [("error", #"{"type":"error","message":"boom","sequence_number":8}"#)], for: request)
        #expect(out.map(\.kind) == [
            .other, .other, .output, .output, .other, .output, .output,
            .usage(TokenUsage(promptTokens: 20, completionTokens: 9, cachedPromptTokens: 5), hasChoices: true), .done, .error,
        ])
        // Nothing re-encoded: every event the client gets is the upstream's, bytes and name.
        let relayed = out.filter { $0.kind != .done }
        #expect(relayed.map(\.event.data) == (Self.streamEvents + [("error", #"{"type":"error","message":"boom","sequence_number":8}"#)]).map { Data($0.1.utf8) })
        #expect(relayed.map(\.event.event) == (Self.streamEvents.map(\.0) + ["error"]).map { Optional($0) })
    }

    @Test func aKeptConversationIsItemsAndIsSplicedBeforeTheNewInput() throws {
        let kept = try #require(ResponsesConversation.kept(request: Data(#"{"model":"m","instructions":"Be brief.","input":"Hi"}"#.utf8), previous: nil, response: Data(Self.response.utf8)))
        #expect(kept.id == "resp_1")
        let items = try #require(try JSONSerialization.jsonObject(with: kept.conversation) as? [[String: Any]])
        // The input, then the output items an input can carry: reasoning is the provider's.
        #expect(items.map { $0["type"] as? String } == ["message", "message", "function_call"])
        #expect(items[0]["content"] as? String == "Hi" && items[1]["role"] as? String == "assistant" && items[1]["id"] == nil)
        #expect(items[2]["call_id"] as? String == "call_1" && items[2]["status"] == nil)

        let spliced = try json(try ResponsesConversation.splice(Data(#"{"model":"m","input":"Again?","previous_response_id":"resp_1"}"#.utf8), previous: kept.conversation))
        #expect(spliced["previous_response_id"] == nil)
        let input = try #require(spliced["input"] as? [[String: Any]])
        #expect(input.count == 4 && input.last?["content"] as? String == "Again?")

        // And for an account that speaks chat: the same conversation as messages.
        let chat = try json(try ResponsesToChat.translate(Data(#"{"model":"m","input":"Again?"}"#.utf8), previous: kept.conversation))
        let messages = try #require(chat["messages"] as? [[String: Any]])
        #expect(messages.map { $0["role"] as? String } == ["user", "assistant", "user"])
        #expect(messages[1]["content"] as? String == "Let me check." && (messages[1]["tool_calls"] as? [Any])?.count == 1)
    }

    @Test func aResponsesRequestIsReadForWhatTheGatewayInterprets() throws {
        let text = try ChatRequestSummary.parseResponses(Data(#"{"model":"m","input":"Hi","stream":true,"max_output_tokens":64,"user":"u1"}"#.utf8))
        #expect(text.model == "m" && text.stream && text.maxOutputTokens == 64 && text.user == "u1" && text.clientIncludeUsage)
        let items = try ChatRequestSummary.parseResponses(Data(#"{"model":"m","input":[{"role":"user","content":[{"type":"input_text","text":"Hi"}]}]}"#.utf8))
        #expect(items.firstMessageHash == text.firstMessageHash, "text and an item of the same words are one conversation")
        let continuing = ResponsesContinuation(Data(#"{"input":[{"store":true}],"store":false,"previous_response_id":"resp_1","model":"m"}"#.utf8))
        #expect(continuing.previousResponseID == "resp_1" && !continuing.store, "read at the top level only")
        let fresh = ResponsesContinuation(Data(#"{"model":"m","input":"x"}"#.utf8))
        #expect(fresh.previousResponseID == nil && fresh.store)
        for (body, param) in [
            (#"{"input":"x"}"#, "model"), (#"{"model":"m"}"#, "input"), (#"{"model":"m","input":[]}"#, "input"),
            (#"{"model":"m","input":7}"#, "input"), (#"{"model":"m","input":"x","max_output_tokens":0}"#, "max_output_tokens"),
            (#"{"model":"m","input":"x","stream":"yes"}"#, "stream"),
        ] {
            do {
                _ = try ChatRequestSummary.parseResponses(Data(body.utf8))
                Issue.record("\(body) was accepted")
            } catch { #expect(error.param == param && error.status == 400, "\(body)") }
        }
    }
}
