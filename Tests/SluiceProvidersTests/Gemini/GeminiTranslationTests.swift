import Foundation
import NIOCore
import SluiceCore
import Testing

@testable import SluiceProviders

/// OpenAI chat requests as Gemini requests, and Gemini's answers as OpenAI's, with bodies as
/// Gemini's API reference shows them.
@Suite struct GeminiTranslationTests {
    func translate(_ body: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: try GeminiRequest.translate(Data(body.utf8))) as? [String: Any])
    }

    func json(_ data: Data) throws -> [String: Any] { try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any]) }

    @Test func messagesToolsAndSettingsMap() throws {
        let out = try translate(#"""
            {"model":"g","max_completion_tokens":100,"temperature":1.5,"top_p":0.8,"stop":"END","reasoning_effort":"low",
             "response_format":{"type":"json_schema","json_schema":{"name":"r","schema":{"type":"object"}}},
             "tool_choice":{"type":"function","function":{"name":"f"}},
             "tools":[{"type":"function","function":{"name":"f","description":"F","parameters":{"type":"object"}}}],
             "messages":[{"role":"system","content":"Be brief."},
               {"role":"user","content":[{"type":"text","text":"Look"},{"type":"image_url","image_url":{"url":"data:image/webp;base64,AAAA"}},
                                         {"type":"image_url","image_url":{"url":"https://e.com/a.png"}}]},
               {"role":"assistant","content":"Calling.","tool_calls":[{"id":"call_0~sig~U0lH","type":"function","function":{"name":"f","arguments":"{\"a\":1}"}}]},
               {"role":"tool","tool_call_id":"call_0~sig~U0lH","content":"plain text"}]}
            """#)
        #expect((out["systemInstruction"] as? [String: Any])?["parts"] as? [[String: String]] == [["text": "Be brief."]])
        let contents = try #require(out["contents"] as? [[String: Any]])
        #expect(contents.map { $0["role"] as? String } == ["user", "model", "user"])
        let user = try #require(contents[0]["parts"] as? [[String: Any]])
        #expect(user[1]["inlineData"] as? [String: String] == ["mimeType": "image/webp", "data": "AAAA"])
        #expect(user[2]["fileData"] as? [String: String] == ["fileUri": "https://e.com/a.png", "mimeType": "image/png"])
        let model = try #require(contents[1]["parts"] as? [[String: Any]])
        #expect(model[0]["text"] as? String == "Calling.")
        #expect(model[1]["thoughtSignature"] as? String == "U0lH", "the signature rode back in the call's id")
        #expect((model[1]["functionCall"] as? [String: Any])?["args"] as? [String: Int] == ["a": 1])
        let result = try #require((contents[2]["parts"] as? [[String: Any]])?.first?["functionResponse"] as? [String: Any])
        #expect(result["name"] as? String == "f" && result["response"] as? [String: String] == ["result": "plain text"])
        let declaration = try #require(((out["tools"] as? [[String: Any]])?.first?["functionDeclarations"] as? [[String: Any]])?.first)
        #expect(declaration["name"] as? String == "f" && declaration["parametersJsonSchema"] as? [String: String] == ["type": "object"])
        let calling = try #require((out["toolConfig"] as? [String: Any])?["functionCallingConfig"] as? [String: Any])
        #expect(calling["mode"] as? String == "ANY" && calling["allowedFunctionNames"] as? [String] == ["f"])
        let config = try #require(out["generationConfig"] as? [String: Any])
        #expect(config["maxOutputTokens"] as? Int == 100 && config["temperature"] as? Double == 1.5 && config["topP"] as? Double == 0.8)
        #expect(config["stopSequences"] as? [String] == ["END"] && config["responseMimeType"] as? String == "application/json")
        #expect((config["thinkingConfig"] as? [String: Any])?["thinkingBudget"] as? Int == 1024)
    }

    @Test func aToolResultForAnUnknownCallIsRefused() {
        do {
            _ = try GeminiRequest.translate(Data(#"{"model":"g","messages":[{"role":"tool","tool_call_id":"nope","content":"x"}]}"#.utf8))
            Issue.record("accepted a result for no call")
        } catch { #expect(error.param == "messages[0].tool_call_id") }
    }

    @Test func aWholeAnswerReadsTextThoughtsCallsUsageAndFinish() throws {
        let body = #"""
            {"candidates":[{"content":{"role":"model","parts":[{"text":"Thinking it over","thought":true},{"text":"Here."},
               {"functionCall":{"name":"f","args":{"a":1}},"thoughtSignature":"U0lH"}]},"finishReason":"STOP","index":0}],
             "usageMetadata":{"promptTokenCount":50,"cachedContentTokenCount":20,"candidatesTokenCount":7,"thoughtsTokenCount":3,"totalTokenCount":60},
             "modelVersion":"gemini-2.5-pro","responseId":"r1"}
            """#
        let whole = try #require(GeminiGenerateContentAdapter().readWhole(ByteBuffer(string: body)))
        #expect(whole.usage == TokenUsage(promptTokens: 50, completionTokens: 10, cachedPromptTokens: 20), "thinking is billed as output")
        let choice = try #require((try json(Data(buffer: whole.body))["choices"] as? [[String: Any]])?.first)
        #expect(choice["finish_reason"] as? String == "tool_calls")
        let message = try #require(choice["message"] as? [String: Any])
        #expect(message["content"] as? String == "Here." && message["reasoning_content"] as? String == "Thinking it over")
        let call = try #require((message["tool_calls"] as? [[String: Any]])?.first)
        #expect(GeminiAnswer.signature(inToolCallID: try #require(call["id"] as? String)) == "U0lH")
        #expect(["STOP", "MAX_TOKENS", "SAFETY", "RECITATION"].map(GeminiAnswer.finishReason) == ["stop", "length", "content_filter", "content_filter"])
        #expect(GeminiGenerateContentAdapter().readWhole(ByteBuffer(string: #"{"error":{"code":503,"message":"x","status":"UNAVAILABLE"}}"#)) == nil)
        let error = try json(Data(buffer: try #require(GeminiGenerateContentAdapter().clientError(
            status: 400, body: ByteBuffer(string: #"{"error":{"code":400,"message":"Bad field","status":"INVALID_ARGUMENT"}}"#)))))
        #expect((error["error"] as? [String: Any])?["message"] as? String == "Bad field")
    }

    /// Read in one pass over the bytes: calls keep their arguments compact and their order, a
    /// second candidate says nothing, a blocked prompt is a content filter, an error is an error.
    @Test func aResponseIsReadWithoutATree() throws {
        var calls = 4
        let body = #"""
            {"responseId":"r3","candidates":[{"finishReason":"STOP","content":{"parts":[
                {"thoughtSignature":"c2ln","functionCall":{"args":{ "q" : "two  words", "n" : [1, 2] },"name":"find"}},
                {"functionCall":{"id":"own","name":"now"}},{"text":"seen","thought":false}]}},
              {"content":{"parts":[{"text":"second candidate"}]}}]}
            """#
        let response = try #require(GeminiResponse(Data(body.utf8), nextCall: &calls))
        #expect(response.hasCandidates && !response.hasPromptFeedback && response.responseID == "r3")
        #expect(response.reading.calls.map(\.id) == ["call_4" + GeminiAnswer.signatureMark + "c2ln", "own"])
        #expect(response.reading.calls.map(\.arguments) == [#"{"q":"two  words","n":[1,2]}"#, "{}"])
        #expect(response.reading.text == "seen" && response.reading.finishReason == "stop" && calls == 6)

        var none = 0
        let blocked = try #require(GeminiResponse(Data(#"{"promptFeedback":{"blockReason":"SAFETY"}}"#.utf8), nextCall: &none))
        #expect(blocked.hasPromptFeedback && !blocked.hasCandidates && blocked.reading.finishReason == "content_filter")
        let error = try #require(GeminiResponse(Data(#"{"usageMetadata":{"promptTokenCount":3},"error":null}"#.utf8), nextCall: &none))
        #expect(error.reading.isError && error.reading.usage == nil)
        let brokenParts = try #require(GeminiResponse(Data(#"{"candidates":[{"content":{"parts":[{"text":"a"},"b"]}}]}"#.utf8), nextCall: &none))
        #expect(brokenParts.reading.text.isEmpty, "parts that are not all objects are not read")
        #expect(GeminiResponse(Data("[1]".utf8), nextCall: &none) == nil && GeminiResponse(Data("{".utf8), nextCall: &none) == nil)
    }

    @Test func aStreamEndsWithUsageOnlyAfterAFinishReason() throws {
        var stream = GeminiStream(model: "g", created: 1)
        var out: [RelayedEvent] = []
        for data in [
            #"{"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]},"index":0}],"responseId":"r2"}"#,
            #"{"candidates":[{"content":{"role":"model","parts":[{"text":"lo"}]},"finishReason":"MAX_TOKENS","index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":2}}"#,
        ] { stream.translate(ServerSentEvent(data: Data(data.utf8)), needOutputCheck: true) { out.append($0) } }
        stream.finish { out.append($0) }
        #expect(out.map(\.kind).prefix(1) == [.other])
        #expect(out.last?.kind == .done)
        #expect(out.dropLast().last?.kind == .usage(TokenUsage(promptTokens: 5, completionTokens: 2), hasChoices: false))
        let deltas = try out.filter { $0.kind == .output }.map { try #require((try json($0.event.data)["choices"] as? [[String: Any]])?.first) }
        #expect(deltas.compactMap { ($0["delta"] as? [String: Any])?["content"] as? String }.joined() == "Hello")
        #expect(deltas.compactMap { $0["finish_reason"] as? String } == ["length"])

        var cut = GeminiStream(model: "g", created: 1)
        var cutOut: [RelayedEvent] = []
        cut.translate(ServerSentEvent(data: Data(#"{"candidates":[{"content":{"parts":[{"text":"Hel"}]}}]}"#.utf8)), needOutputCheck: true) { cutOut.append($0) }
        cut.finish { cutOut.append($0) }
        #expect(!cutOut.contains { $0.kind == .done }, "no finish reason, no end: the relay reports the break")
    }
}
