import Foundation
import Hummingbird
import NIOCore

extension MockUpstream {
    static let created = 1_700_000_000

    static func completion(model: String) -> String {
        let promptTokens = 12
        let completionTokens = pieces.count
        return #"""
            {"id":"chatcmpl-demo","object":"chat.completion","created":\#(created),"model":"\#(model)","system_fingerprint":"sluice-demo","choices":[{"index":0,"message":{"role":"assistant","content":"\#(reply)","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":\#(promptTokens),"completion_tokens":\#(completionTokens),"total_tokens":\#(promptTokens + completionTokens)}}
            """#
    }

    static func chunk(model: String, delta: String, finish: String? = nil) -> String {
        let finishJSON = finish.map { "\"\($0)\"" } ?? "null"
        return #"{"id":"chatcmpl-demo","object":"chat.completion.chunk","created":\#(created),"model":"\#(model)","system_fingerprint":"sluice-demo","choices":[{"index":0,"delta":\#(delta),"logprobs":null,"finish_reason":\#(finishJSON)}]}"#
    }

    static func usageChunk(model: String, completionTokens: Int) -> String {
        #"{"id":"chatcmpl-demo","object":"chat.completion.chunk","created":\#(created),"model":"\#(model)","system_fingerprint":"sluice-demo","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":\#(completionTokens),"total_tokens":\#(12 + completionTokens)}}"#
    }

    static func streamChunks(
        model: String, includeUsage: Bool, behavior: MockBehavior, control: MockControl, writer: inout any ResponseBodyWriter
    ) async throws {
        try await writer.write(event(chunk(model: model, delta: #"{"role":"assistant","content":""}"#)))
        if case .toolCall = behavior {
            for delta in toolCallDeltas { try await writer.write(event(chunk(model: model, delta: delta))) }
            try await writer.write(event(chunk(model: model, delta: "{}", finish: "tool_calls")))
            if includeUsage { try await writer.write(event(usageChunk(model: model, completionTokens: toolCallDeltas.count))) }
            try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
            try await writer.finish(nil)
            return
        }
        var sent = 0
        var index = 0
        while true {
            if case .endless(let interval) = behavior {
                try await Task.sleep(for: .milliseconds(interval))
            } else if case .flood(let bytes) = behavior {
                let written = ByteBuffer(string: "data: \(chunk(model: model, delta: "{\"content\":\"\(String(repeating: "x", count: bytes))\"}"))\n\n")
                control.noteStreamed(bytes: written.readableBytes)
                try await writer.write(written)
                continue
            } else if index == pieces.count {
                break
            }
            if case .breakStream(let after) = behavior, sent == after {
                // Wait until the test has seen the chunks, then drop the connection mid-stream: the
                // server closes it when the writer throws.
                await control.waitForGate()
                throw CancellationError()
            }
            let piece = pieces[index % pieces.count]
            try await writer.write(event(chunk(model: model, delta: "{\"content\":\(jsonString(piece))}")))
            sent += 1
            index += 1
            if case .gated = behavior, sent == 1 { await control.waitForGate() }
        }
        try await writer.write(event(chunk(model: model, delta: "{}", finish: "stop")))
        if includeUsage { try await writer.write(event(usageChunk(model: model, completionTokens: sent))) }
        try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
        try await writer.finish(nil)
    }

    /// A whole normal stream in one buffer.
    static func burst(model: String, includeUsage: Bool) -> ByteBuffer {
        var all = event(chunk(model: model, delta: #"{"role":"assistant","content":""}"#))
        for piece in pieces { all.writeImmutableBuffer(event(chunk(model: model, delta: "{\"content\":\(jsonString(piece))}"))) }
        all.writeImmutableBuffer(event(chunk(model: model, delta: "{}", finish: "stop")))
        if includeUsage { all.writeImmutableBuffer(event(usageChunk(model: model, completionTokens: pieces.count))) }
        all.writeString("data: [DONE]\n\n")
        return all
    }

    /// A `get_weather` call, split the way OpenAI streams one.
    public static let toolCallDeltas = [
        #"{"tool_calls":[{"index":0,"id":"call_demo","type":"function","function":{"name":"get_weather","arguments":""}}]}"#,
        #"{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}"#,
        #"{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}"#,
    ]

    static func jsonString(_ s: String) -> String {
        String(decoding: (try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8), as: UTF8.self)
    }

    static func event(_ payload: String) -> ByteBuffer { ByteBuffer(string: "data: \(payload)\n\n") }

    static func json(_ status: Int, _ body: String, _ extra: HTTPFields = [:]) -> Response {
        var headers = extra
        headers[.contentType] = "application/json"
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func sse(_ extra: HTTPFields, _ write: @escaping @Sendable (inout any ResponseBodyWriter) async throws -> Void) -> Response {
        var headers = extra
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-cache"
        return Response(status: .ok, headers: headers, body: .init(write))
    }
}
