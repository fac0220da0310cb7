import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The mock's Anthropic Messages API (`POST /v1/messages`), for accounts whose manifest speaks
/// `anthropic-messages`. The same switchboard picks the behaviour, by the `x-api-key` header or
/// the bearer token. Answers report prompt-cache reads, so tests can check their price.
extension MockUpstream {
    /// Input tokens every answer reports: plain, read from the cache, written to it.
    public static let anthropicUsage = (input: 12, cacheRead: 100, cacheWrite: 20)

    struct MessagesProbe: Decodable {
        var model: String?
        var stream: Bool?
    }

    static func messages(_ request: Request, control: MockControl) async throws -> Response {
        var request = request
        let data = Data(buffer: try await request.collectBody(upTo: 16 << 20))
        let authorization = request.headers[.authorization]
        let apiKey = request.headers[HTTPField.Name("x-api-key")!]
        control.record(.init(
            authorization: authorization, apiKeyHeader: apiKey, cookie: nil, body: data,
            anthropicVersion: request.headers[HTTPField.Name("anthropic-version")!], anthropicBeta: request.headers[HTTPField.Name("anthropic-beta")!]))
        guard request.headers[HTTPField.Name("anthropic-version")!] != nil else {
            return json(400, anthropicError("invalid_request_error", "anthropic-version: header is required"))
        }
        let credential = apiKey ?? authorization.map { String($0.dropFirst("Bearer ".count)) }
        let probe = try? JSONDecoder().decode(MessagesProbe.self, from: data)
        let model = probe?.model ?? "claude-mock"
        let stream = probe?.stream ?? false

        // Anthropic's rate-limit headers: the requests limit resets in two minutes.
        var limits = HTTPFields()
        if let quota = control.quota(for: credential) {
            limits[HTTPField.Name("anthropic-ratelimit-requests-remaining")!] = String(quota.remaining)
            limits[HTTPField.Name("anthropic-ratelimit-requests-limit")!] = String(quota.limit)
            limits[HTTPField.Name("anthropic-ratelimit-requests-reset")!] = ISO8601DateFormatter().string(from: Date().addingTimeInterval(120))
        }

        switch control.behavior(for: credential) {
        case .fail(let status, let retryAfter):
            var headers = limits
            if let retryAfter { headers[.retryAfter] = retryAfter }
            let type = status == 429 ? "rate_limit_error" : status == 529 ? "overloaded_error" : "api_error"
            return json(status, anthropicError(type, "mock upstream failure"), headers)
        case .inBandError where !stream:
            return json(200, anthropicError("overloaded_error", "Overloaded"))
        case .inBandError:
            return sse([:]) { writer in
                try await writer.write(anthropicEvent("error", anthropicError("overloaded_error", "Overloaded")))
                try await writer.finish(nil)
            }
        case .toolCall where !stream:
            return json(200, anthropicMessage(model: model, content: #"[{"type":"tool_use","id":"toolu_mock","name":"get_weather","input":{"city":"Paris"}}]"#, stopReason: "tool_use", outputTokens: 3))
        case _ where !stream:
            return json(200, anthropicMessage(model: model, content: #"[{"type":"text","text":\#(jsonString(reply))}]"#, stopReason: "end_turn", outputTokens: pieces.count), limits)
        case let behavior:
            return sse([:]) { writer in
                do { try await streamAnthropic(model: model, behavior: behavior, control: control, writer: &writer) } catch {
                    control.noteAbandoned()
                    throw error
                }
            }
        }
    }

    /// What the mock's `count_tokens` answers, whatever the body.
    public static let countedTokens = 42

    /// `POST /v1/messages/count_tokens`: the count, or the failure the credential's behaviour says.
    static func countTokens(_ request: Request, control: MockControl) async throws -> Response {
        var request = request
        let data = Data(buffer: try await request.collectBody(upTo: 16 << 20))
        let apiKey = request.headers[HTTPField.Name("x-api-key")!]
        control.record(.init(
            authorization: request.headers[.authorization], apiKeyHeader: apiKey, cookie: nil, body: data,
            anthropicVersion: request.headers[HTTPField.Name("anthropic-version")!], path: request.uri.path))
        if case .fail(let status, _) = control.behavior(for: apiKey) {
            let type = status == 400 ? "invalid_request_error" : status == 429 ? "rate_limit_error" : "api_error"
            return json(status, anthropicError(type, "mock count failure"))
        }
        return json(200, #"{"input_tokens":\#(countedTokens)}"#)
    }

    static func streamAnthropic(model: String, behavior: MockBehavior, control: MockControl, writer: inout any ResponseBodyWriter) async throws {
        let usage = anthropicUsage
        try await writer.write(anthropicEvent("message_start", #"""
            {"type":"message_start","message":{"id":"msg_mock","type":"message","role":"assistant","model":"\#(model)","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":\#(usage.input),"cache_read_input_tokens":\#(usage.cacheRead),"cache_creation_input_tokens":\#(usage.cacheWrite),"output_tokens":1}}}
            """#))
        try await writer.write(anthropicEvent("ping", #"{"type":"ping"}"#))
        var stopReason = "end_turn"
        var output = 0
        if case .toolCall = behavior {
            try await writer.write(anthropicEvent("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"tool_use","id":"toolu_mock","name":"get_weather","input":{}}}"#))
            for part in [#"{\"city\":"#, #"\"Paris\"}"#] {
                try await writer.write(anthropicEvent("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json":"\#(part)"}}"#))
                output += 1
            }
            stopReason = "tool_use"
        } else {
            try await writer.write(anthropicEvent("content_block_start", #"{"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#))
            for piece in pieces {
                if case .breakStream(let after) = behavior, output == after {
                    await control.waitForGate()
                    throw CancellationError()
                }
                try await writer.write(anthropicEvent("content_block_delta", #"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":\#(jsonString(piece))}}"#))
                output += 1
                if case .gated = behavior, output == 1 { await control.waitForGate() }
            }
        }
        try await writer.write(anthropicEvent("content_block_stop", #"{"type":"content_block_stop","index":0}"#))
        try await writer.write(anthropicEvent("message_delta", #"{"type":"message_delta","delta":{"stop_reason":"\#(stopReason)","stop_sequence":null},"usage":{"output_tokens":\#(output)}}"#))
        try await writer.write(anthropicEvent("message_stop", #"{"type":"message_stop"}"#))
        try await writer.finish(nil)
    }

    static func anthropicMessage(model: String, content: String, stopReason: String, outputTokens: Int) -> String {
        let usage = anthropicUsage
        return #"""
            {"id":"msg_mock","type":"message","role":"assistant","model":"\#(model)","content":\#(content),"stop_reason":"\#(stopReason)","stop_sequence":null,"usage":{"input_tokens":\#(usage.input),"cache_read_input_tokens":\#(usage.cacheRead),"cache_creation_input_tokens":\#(usage.cacheWrite),"output_tokens":\#(outputTokens)}}
            """#
    }

    static func anthropicError(_ type: String, _ message: String) -> String {
        #"{"type":"error","error":{"type":"\#(type)","message":"\#(message)"}}"#
    }

    static func anthropicEvent(_ name: String, _ payload: String) -> ByteBuffer {
        ByteBuffer(string: "event: \(name)\ndata: \(payload)\n\n")
    }
}
