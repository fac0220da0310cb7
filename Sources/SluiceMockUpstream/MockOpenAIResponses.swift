import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The mock's OpenAI Responses API (`POST /v1/responses`), for accounts whose manifest speaks
/// `openai-responses`. The behaviour is picked by the bearer token. Answers report cached input
/// tokens, so tests can check their price; a stream sends the `response.*` events OpenAI does.
extension MockUpstream {
    /// Input tokens every answer reports, and how many of them came from the cache.
    public static let responsesUsage = (input: 112, cached: 100)

    static func responses(_ request: Request, control: MockControl) async throws -> Response {
        var request = request
        let data = Data(buffer: try await request.collectBody(upTo: 16 << 20))
        let authorization = request.headers[.authorization]
        control.record(.init(authorization: authorization, apiKeyHeader: nil, cookie: nil, body: data))
        let credential = authorization.map { String($0.dropFirst("Bearer ".count)) }
        let body = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        let model = body["model"] as? String ?? "sluice-demo"
        let stream = body["stream"] as? Bool ?? false
        guard body["input"] != nil else {
            return json(400, #"{"error":{"message":"Missing required parameter: 'input'.","type":"invalid_request_error","param":"input","code":"missing_required_parameter"}}"#)
        }
        let answer = MockResponse(model: model)
        switch control.behavior(for: credential) {
        case .fail(let status, let retryAfter):
            var headers = HTTPFields()
            if let retryAfter { headers[.retryAfter] = retryAfter }
            return json(status, #"{"error":{"message":"mock upstream failure","type":"server_error","param":null,"code":null}}"#, headers)
        case .garbage:
            return Response(status: .ok, headers: [.contentType: "text/html"], body: .init(byteBuffer: ByteBuffer(string: "<html>login</html>")))
        case .inBandError where !stream:
            return json(200, #"{"error":{"message":"The server is overloaded.","type":"server_error","param":null,"code":null}}"#)
        case .inBandError:
            return sse([:]) { writer in
                var events = answer
                try await writer.write(events.event("error", ["code": "server_error", "message": "The server is overloaded.", "param": NSNull()]))
                try await writer.finish(nil)
            }
        case .toolCall where !stream:
            return json(200, answer.json(answer.response(status: "completed", output: [answer.call(status: "completed")], outputTokens: 3)))
        case _ where !stream:
            return json(200, answer.json(answer.response(status: "completed", output: [answer.message(reply, status: "completed")], outputTokens: pieces.count)))
        case let behavior:
            return sse([:]) { writer in
                do { try await answer.stream(behavior: behavior, control: control, writer: &writer) } catch {
                    control.noteAbandoned()
                    throw error
                }
            }
        }
    }
}

/// One answer of the mock's Responses API, whole or as its event stream.
struct MockResponse {
    let model: String
    let id = "resp_mock" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    private var sequence = 0

    init(model: String) { self.model = model }

    func response(status: String, output: [[String: Any]], outputTokens: Int?) -> [String: Any] {
        let text: [String: Any] = ["format": ["type": "text"]]
        var object: [String: Any] = [
            "id": id, "object": "response", "created_at": MockUpstream.created, "status": status, "model": model, "output": output,
            "tools": [Any](), "tool_choice": "auto", "parallel_tool_calls": true, "instructions": NSNull(), "error": NSNull(),
            "incomplete_details": NSNull(), "metadata": [String: Any](), "text": text,
        ]
        if let outputTokens {
            let usage = MockUpstream.responsesUsage
            object["usage"] = [
                "input_tokens": usage.input, "input_tokens_details": ["cached_tokens": usage.cached, "cache_write_tokens": 0], "output_tokens": outputTokens,
                "output_tokens_details": ["reasoning_tokens": 0], "total_tokens": usage.input + outputTokens,
            ]
        }
        return object
    }

    func message(_ text: String, status: String) -> [String: Any] {
        let part: [String: Any] = ["type": "output_text", "text": text, "annotations": [Any]()]
        let content: [Any] = status == "in_progress" ? [] : [part]
        return ["type": "message", "id": "msg_mock", "status": status, "role": "assistant", "content": content]
    }

    func call(status: String) -> [String: Any] {
        [
            "type": "function_call", "id": "fc_mock", "call_id": "call_mock", "name": "get_weather",
            "arguments": status == "in_progress" ? "" : #"{"city":"Paris"}"#, "status": status,
        ]
    }

    func json(_ object: [String: Any]) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8), as: UTF8.self)
    }

    mutating func event(_ type: String, _ fields: [String: Any]) -> ByteBuffer {
        var object = fields
        object["type"] = type
        object["sequence_number"] = sequence
        sequence += 1
        return ByteBuffer(string: "event: \(type)\ndata: \(json(object))\n\n")
    }

    func stream(behavior: MockBehavior, control: MockControl, writer: inout any ResponseBodyWriter) async throws {
        var events = self
        try await writer.write(events.event("response.created", ["response": response(status: "in_progress", output: [], outputTokens: nil)]))
        try await writer.write(events.event("response.in_progress", ["response": response(status: "in_progress", output: [], outputTokens: nil)]))
        if case .toolCall = behavior {
            try await writer.write(events.event("response.output_item.added", ["output_index": 0, "item": call(status: "in_progress")]))
            for part in [#"{"city":"#, #""Paris"}"#] {
                try await writer.write(events.event("response.function_call_arguments.delta", ["item_id": "fc_mock", "output_index": 0, "delta": part]))
            }
            let done = call(status: "completed")
            try await writer.write(events.event("response.function_call_arguments.done", [
                "item_id": "fc_mock", "output_index": 0, "name": "get_weather", "arguments": done["arguments"] ?? "",
            ]))
            try await writer.write(events.event("response.output_item.done", ["output_index": 0, "item": done]))
            try await writer.write(events.event("response.completed", ["response": response(status: "completed", output: [done], outputTokens: 3)]))
            return try await writer.finish(nil)
        }
        try await writer.write(events.event("response.output_item.added", ["output_index": 0, "item": message("", status: "in_progress")]))
        let emptyPart: [String: Any] = ["type": "output_text", "text": "", "annotations": [Any]()]
        try await writer.write(events.event("response.content_part.added", ["item_id": "msg_mock", "output_index": 0, "content_index": 0, "part": emptyPart]))
        for (index, piece) in MockUpstream.pieces.enumerated() {
            if case .breakStream(let after) = behavior, index == after {
                await control.waitForGate()
                throw CancellationError()
            }
            try await writer.write(events.event("response.output_text.delta", [
                "item_id": "msg_mock", "output_index": 0, "content_index": 0, "delta": piece, "logprobs": [Any](),
            ]))
            if case .gated = behavior, index == 0 { await control.waitForGate() }
        }
        let text = MockUpstream.reply
        try await writer.write(events.event("response.output_text.done", [
            "item_id": "msg_mock", "output_index": 0, "content_index": 0, "text": text, "logprobs": [Any](),
        ]))
        let part: [String: Any] = ["type": "output_text", "text": text, "annotations": [Any]()]
        try await writer.write(events.event("response.content_part.done", ["item_id": "msg_mock", "output_index": 0, "content_index": 0, "part": part]))
        let done = message(text, status: "completed")
        try await writer.write(events.event("response.output_item.done", ["output_index": 0, "item": done]))
        try await writer.write(events.event("response.completed", [
            "response": response(status: "completed", output: [done], outputTokens: MockUpstream.pieces.count),
        ]))
        try await writer.finish(nil)
    }
}
