import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The mock's Gemini API (`POST /v1beta/models/{model}:generateContent` and
/// `:streamGenerateContent?alt=sse`), for accounts whose manifest speaks
/// `gemini-generate-content`. The behaviour is picked by the `x-goog-api-key` header or the
/// bearer token. Answers report cached prompt tokens, so tests can check their price.
extension MockUpstream {
    /// Prompt tokens every answer reports, and how many of them came from the cache.
    public static let geminiUsage = (prompt: 112, cached: 100)
    /// The signature the mock's function calls carry, which Gemini wants back on the next turn.
    public static let geminiSignature = "c2lnbmF0dXJl"

    static func generateContent(_ request: Request, action: String, control: MockControl) async throws -> Response {
        if action.hasSuffix(":batchEmbedContents") { return try await batchEmbedContents(request, control: control) }
        var request = request
        let data = Data(buffer: try await request.collectBody(upTo: 16 << 20))
        let authorization = request.headers[.authorization]
        let apiKey = request.headers[HTTPField.Name("x-goog-api-key")!]
        control.record(.init(authorization: authorization, apiKeyHeader: apiKey, cookie: nil, body: data))
        let credential = apiKey ?? authorization.map { String($0.dropFirst("Bearer ".count)) }
        let parts = action.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, ["generateContent", "streamGenerateContent"].contains(parts[1]) else {
            return json(404, googleError(404, "NOT_FOUND", "unknown method \(action)"))
        }
        let model = parts[0]
        let stream = parts[1] == "streamGenerateContent"

        switch control.behavior(for: credential) {
        case .fail(let status, let retryAfter):
            let delay = retryAfter.map { #",{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"\#($0)s"}"# } ?? ""
            let state = status == 429 ? "RESOURCE_EXHAUSTED" : status == 400 ? "INVALID_ARGUMENT" : "UNAVAILABLE"
            return json(status, #"{"error":{"code":\#(status),"message":"mock upstream failure","status":"\#(state)","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"MOCK"}\#(delay)]}}"#)
        case .inBandError where !stream:
            return json(200, googleError(503, "UNAVAILABLE", "The model is overloaded."))
        case .inBandError:
            return sse([:]) { writer in
                try await writer.write(event(googleError(503, "UNAVAILABLE", "The model is overloaded.")))
                try await writer.finish(nil)
            }
        case .toolCall where !stream:
            return json(200, geminiResponse(model: model, parts: geminiCallPart, finish: "STOP", output: 3, usage: true))
        case _ where !stream:
            return json(200, geminiResponse(model: model, parts: #"[{"text":\#(jsonString(reply))}]"#, finish: "STOP", output: pieces.count, usage: true))
        case let behavior:
            return sse([:]) { writer in
                if case .toolCall = behavior {
                    try await writer.write(event(geminiResponse(model: model, parts: geminiCallPart, finish: "STOP", output: 3, usage: true)))
                    try await writer.finish(nil)
                    return
                }
                for (index, piece) in pieces.enumerated() {
                    if case .breakStream(let after) = behavior, index == after { return try await writer.finish(nil) }
                    let last = index == pieces.count - 1
                    try await writer.write(event(geminiResponse(
                        model: model, parts: #"[{"text":\#(jsonString(piece))}]"#, finish: last ? "STOP" : nil, output: index + 1, usage: last)))
                }
                try await writer.finish(nil)
            }
        }
    }

    static let geminiCallPart = #"[{"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"\#(geminiSignature)"}]"#

    static func geminiResponse(model: String, parts: String, finish: String?, output: Int, usage: Bool) -> String {
        let finishJSON = finish.map { #","finishReason":"\#($0)""# } ?? ""
        let usageJSON = usage
            ? #","usageMetadata":{"promptTokenCount":\#(geminiUsage.prompt),"cachedContentTokenCount":\#(geminiUsage.cached),"candidatesTokenCount":\#(output),"totalTokenCount":\#(geminiUsage.prompt + output)}"#
            : ""
        return #"{"candidates":[{"content":{"role":"model","parts":\#(parts)},"index":0\#(finishJSON)}]\#(usageJSON),"modelVersion":"\#(model)","responseId":"resp_mock"}"#
    }

    static func googleError(_ code: Int, _ status: String, _ message: String) -> String {
        #"{"error":{"code":\#(code),"message":"\#(message)","status":"\#(status)"}}"#
    }
}
