import Foundation
import Testing
@testable import SluiceCore

@Suite struct ChatRequestTests {
    func parse(_ json: String) throws(GatewayError) -> ChatRequestSummary { try ChatRequestSummary.parse(Data(json.utf8)) }

    func error(_ json: String) -> GatewayError? {
        do { _ = try parse(json); return nil } catch { return error }
    }

    @Test func readsTheFieldsItNeeds() throws {
        let s = try parse(#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true},"max_tokens":9,"tools":[{"type":"function"}]}"#)
        #expect(s == ChatRequestSummary(model: "m", stream: true, clientIncludeUsage: true, hasStreamOptions: true, maxOutputTokens: 9, user: nil,
            firstMessageHash: SessionHash.of("m:user\nhi")))
    }

    @Test func theSessionIsTheHeaderElseTheUserElseTheFirstMessage() throws {
        let plain = try parse(#"{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hi"}]}"#)
        let parts = try parse(#"{"model":"m","messages":[{"role":"system","content":[{"type":"text","text":"be brief"}]},{"role":"user","content":"other"}]}"#)
        let otherStart = try parse(#"{"model":"m","messages":[{"role":"system","content":"be verbose"},{"role":"user","content":"hi"}]}"#)
        let named = try parse(#"{"model":"m","user":"alice","messages":[{"role":"system","content":"be brief"}]}"#)
        // The same first message is the same conversation, whatever follows and however it is spelled.
        #expect(plain.sessionKey(header: nil) != nil)
        #expect(plain.sessionKey(header: nil) == parts.sessionKey(header: nil))
        #expect(plain.sessionKey(header: nil) != otherStart.sessionKey(header: nil))
        #expect(named.sessionKey(header: nil) == SessionHash.of("u:alice"))
        #expect(named.sessionKey(header: "s-1") == SessionHash.of("h:s-1"))
        #expect(named.sessionKey(header: "") == SessionHash.of("u:alice"))
    }

    @Test func maxCompletionTokensWinsOverMaxTokens() throws {
        #expect(try parse(#"{"model":"m","messages":[{"role":"user"}],"max_tokens":9,"max_completion_tokens":5}"#).maxOutputTokens == 5)
    }

    @Test(arguments: [
        ("{bad", nil),
        ("[1,2]", nil),
        (#"{"messages":[{"role":"user"}]}"#, "model"),
        (#"{"model":"","messages":[{"role":"user"}]}"#, "model"),
        (#"{"model":"m"}"#, "messages"),
        (#"{"model":"m","messages":[]}"#, "messages"),
        (#"{"model":7,"messages":[{"role":"user"}]}"#, "model"),
        (#"{"model":"m","messages":"hi"}"#, "messages"),
        (#"{"model":"m","messages":[{"content":"x"}]}"#, "messages[0].role"),
        (#"{"model":"m","messages":[{"role":"user"}],"stream":"yes"}"#, "stream"),
        (#"{"model":"m","messages":[{"role":"user"}],"max_tokens":0}"#, "max_tokens"),
    ] as [(String, String?)])
    func badInputIs400NamingTheParameter(json: String, param: String?) {
        let e = error(json)
        #expect(e?.status == 400)
        #expect(e?.param == param)
        #expect(e?.shouldRetry == false)
    }

    @Test func includeUsageIsSplicedInWithoutReencoding() throws {
        let body = #"{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}],"seed":1}"#
        let edited = try #require(ChatRequestRewrite.forcingIncludeUsage(Data(body.utf8), summary: try parse(body)))
        #expect(String(decoding: edited, as: UTF8.self) == #"{"stream_options":{"include_usage":true},"model":"m","stream":true,"messages":[{"role":"user","content":"x"}],"seed":1}"#)
    }

    @Test func includeUsageIsSetInsideExistingStreamOptions() throws {
        let body = #"{"model":"m","stream":true,"stream_options":{"include_usage":false,"include_obfuscation":false},"messages":[{"role":"user"}]}"#
        let edited = try #require(ChatRequestRewrite.forcingIncludeUsage(Data(body.utf8), summary: try parse(body)))
        let object = try #require(try JSONSerialization.jsonObject(with: edited) as? [String: Any])
        let options = try #require(object["stream_options"] as? [String: Any])
        #expect(options["include_usage"] as? Bool == true)
        #expect(options["include_obfuscation"] as? Bool == false)
        #expect(object["model"] as? String == "m")
    }

    @Test func bodyThatAlreadyAsksIsLeftAlone() throws {
        let body = #"{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user"}]}"#
        #expect(ChatRequestRewrite.forcingIncludeUsage(Data(body.utf8), summary: try parse(body)) == nil)
    }
}

@Suite struct ResponseInspectionTests {
    func classify(_ s: String, full: Bool = true) -> ResponseInspection.ChunkKind {
        ResponseInspection.classify(Data(s.utf8), needOutputCheck: full)
    }

    @Test func kindsOfChunk() {
        #expect(classify("[DONE]") == .done)
        #expect(classify(#"{"error":{"message":"x"}}"#) == .error)
        #expect(classify(#"{"choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}"#) == .other)
        #expect(classify(#"{"choices":[{"index":0,"delta":{"content":"hi"}}]}"#) == .output)
        #expect(classify(#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0}]}}]}"#) == .output)
        #expect(classify(#"{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#) == .output)
        #expect(classify(#"{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4,"prompt_tokens_details":{"cached_tokens":1}}}"#)
            == .usage(TokenUsage(promptTokens: 3, completionTokens: 4, cachedPromptTokens: 1), hasChoices: false))
    }

    @Test func contentThatMentionsErrorIsNotAnError() {
        #expect(classify(#"{"choices":[{"index":0,"delta":{"content":"\"error\" and \"usage\""}}]}"#, full: false) == .output)
    }

    @Test func usageOfACompletion() {
        let body = #"{"id":"x","choices":[],"usage":{"prompt_tokens":10,"completion_tokens":2,"total_tokens":12}}"#
        #expect(ResponseInspection.completion(Data(body.utf8)) == .valid(usage: TokenUsage(promptTokens: 10, completionTokens: 2)))
        #expect(ResponseInspection.completion(Data("{}".utf8)) == .valid(usage: nil))
        #expect(ResponseInspection.completion(Data("<html>".utf8)) == .invalid)
        #expect(ResponseInspection.completion(Data("[1]".utf8)) == .invalid)
    }
}

@Suite struct GatewayErrorTests {
    @Test func bodyHasOpenAIShapeWithExplicitNulls() throws {
        let object = try #require(try JSONSerialization.jsonObject(with: GatewayError.invalidAPIKey.jsonBody) as? [String: Any])
        let error = try #require(object["error"] as? [String: Any])
        #expect(Set(error.keys) == ["message", "type", "param", "code"])
        #expect(error["param"] is NSNull)
        #expect(error["code"] as? String == "invalid_api_key")
    }
}

@Suite struct MessagesRequestTests {
    func parse(_ json: String) throws(GatewayError) -> ChatRequestSummary { try ChatRequestSummary.parseMessages(Data(json.utf8)) }

    func message(_ json: String) -> String? {
        do { _ = try parse(json); return nil } catch { return error.message }
    }

    @Test func readsWhatTheGatewayNeeds() throws {
        let s = try parse(#"{"model":"claude-x","max_tokens":300,"stream":true,"metadata":{"user_id":"u-7"},"system":"s","messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}"#)
        #expect(s.model == "claude-x" && s.maxOutputTokens == 300 && s.stream && s.user == "u-7" && s.clientIncludeUsage)
        #expect(s.firstMessageHash == SessionHash.of("m:user\nhi"))
    }

    @Test func refusalsNameTheFieldAsAnthropicDoes() {
        #expect(message(#"{"max_tokens":1,"messages":[{"role":"user","content":"x"}]}"#) == "model: Field required")
        #expect(message(#"{"model":"m","messages":[{"role":"user","content":"x"}]}"#) == "max_tokens: Field required")
        #expect(message(#"{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"x"}]}"#)?.hasPrefix("max_tokens:") == true)
        #expect(message(#"{"model":"m","max_tokens":1}"#) == "messages: Field required")
        #expect(message(#"{"model":"m","max_tokens":1,"messages":[]}"#) == "messages: List should have at least 1 item")
        #expect(message(#"{"model":"m","max_tokens":1,"messages":[{"role":"tool","content":"x"}]}"#)?.hasPrefix("messages.0.role") == true)
        #expect(message(#"{"model":"m","max_tokens":"many","messages":[{"role":"user","content":"x"}]}"#) == "max_tokens: Input has the wrong type")
        #expect(message("{nope") == "The request body is not valid JSON.")
        #expect(message("[1]") == "The request body must be a JSON object.")
    }
}
