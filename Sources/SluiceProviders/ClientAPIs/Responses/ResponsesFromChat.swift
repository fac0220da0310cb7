import Foundation
import NIOCore
import SluiceCore

/// What a Responses answer repeats of its request, read from the request's chat form when an
/// answer is written (kept as bytes, so a stream's writer stays `Sendable`).
struct ResponsesEcho: Sendable {
    let chat: Data

    init(chat: Data) { self.chat = chat }

    /// A `response` object: `status` completed, incomplete or in progress.
    func response(id: String, createdAt: Int, status: String, output: [[String: Any]], usage: TokenUsage?, incomplete: Bool) -> [String: Any] {
        let chat = (try? JSONSerialization.jsonObject(with: self.chat)) as? [String: Any] ?? [:]
        let model = chat["model"] as? String ?? ""
        let tools = (chat["tools"] as? [[String: Any]] ?? []).map { tool -> [String: Any] in
            var function = tool["function"] as? [String: Any] ?? [:]
            function["type"] = "function"
            function["strict"] = function["strict"] ?? NSNull()
            return function
        }
        var toolChoice: Any = chat["tool_choice"] as? String ?? "auto"
        if let name = ((chat["tool_choice"] as? [String: Any])?["function"] as? [String: Any])?["name"] as? String {
            toolChoice = ["type": "function", "name": name]
        }
        let parallelToolCalls = chat["parallel_tool_calls"] as? Bool ?? true
        let first = (chat["messages"] as? [[String: Any]])?.first
        let instructions: Any = first?["role"] as? String == "system" ? first?["content"] ?? NSNull() : NSNull()
        let maxOutputTokens: Any = chat["max_tokens"] ?? NSNull()
        var object: [String: Any] = [
            "id": id, "object": "response", "created_at": createdAt, "status": status, "model": model, "output": output,
            "tools": tools, "tool_choice": toolChoice, "parallel_tool_calls": parallelToolCalls, "instructions": instructions,
            "max_output_tokens": maxOutputTokens, "previous_response_id": NSNull(), "error": NSNull(),
            "incomplete_details": incomplete ? ["reason": "max_output_tokens"] : NSNull(), "metadata": [String: Any](),
            "text": ["format": ["type": "text"]], "store": false,
        ]
        if let usage {
            object["usage"] = [
                "input_tokens": usage.promptTokens,
                "input_tokens_details": ["cached_tokens": usage.cachedPromptTokens, "cache_write_tokens": usage.cacheWriteTokens],
                "output_tokens": usage.completionTokens, "output_tokens_details": ["reasoning_tokens": 0],
                "total_tokens": usage.promptTokens + usage.completionTokens,
            ]
        }
        return object
    }
}

public enum ResponsesFromChat {
    public static func newID(_ prefix: String) -> String {
        prefix + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }

    static func message(id: String, text: String, status: String) -> [String: Any] {
        [
            "type": "message", "id": id, "status": status, "role": "assistant",
            "content": [["type": "output_text", "text": text, "annotations": [Any]()]],
        ]
    }

    static func functionCall(id: String, callID: String, name: String, arguments: String, status: String) -> [String: Any] {
        ["type": "function_call", "id": id, "call_id": callID, "name": name, "arguments": arguments, "status": status]
    }

    /// A response's output items as the chat assistant message that a continuation sends back.
    public static func assistantMessage(fromResponse body: Data) -> [String: Any]? {
        guard let response = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any], let output = response["output"] as? [[String: Any]]
        else { return nil }
        var text = ""
        var calls: [[String: Any]] = []
        for item in output {
            switch item["type"] as? String {
            case "message":
                text += (item["content"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }.joined()
            case "function_call":
                calls.append([
                    "id": item["call_id"] as? String ?? "", "type": "function",
                    "function": ["name": item["name"] as? String ?? "", "arguments": item["arguments"] as? String ?? "{}"],
                ])
            default: continue
            }
        }
        var message: [String: Any] = ["role": "assistant", "content": text.isEmpty ? NSNull() : text]
        if !calls.isEmpty { message["tool_calls"] = calls }
        return message
    }

    /// A `chat.completion` as a `response`, under `id` when one was given; nil when the body is not a completion.
    public static func response(fromCompletion body: Data, chatRequest: Data, usage: TokenUsage?, id: String? = nil) -> Data? {
        guard let completion = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
              let choice = (completion["choices"] as? [[String: Any]])?.first, let message = choice["message"] as? [String: Any]
        else { return nil }
        var output: [[String: Any]] = []
        if let text = message["content"] as? String, !text.isEmpty { output.append(self.message(id: newID("msg_"), text: text, status: "completed")) }
        for call in message["tool_calls"] as? [[String: Any]] ?? [] {
            let function = call["function"] as? [String: Any]
            output.append(functionCall(
                id: newID("fc_"), callID: call["id"] as? String ?? newID("call_"), name: function?["name"] as? String ?? "",
                arguments: function?["arguments"] as? String ?? "{}", status: "completed"))
        }
        let incomplete = choice["finish_reason"] as? String == "length"
        let response = ResponsesEcho(chat: chatRequest).response(
            id: id ?? newID("resp_"), createdAt: completion["created"] as? Int ?? Int(Date().timeIntervalSince1970),
            status: incomplete ? "incomplete" : "completed", output: output, usage: usage ?? TokenUsage(promptTokens: 0, completionTokens: 0),
            incomplete: incomplete)
        return try? JSONSerialization.data(withJSONObject: response)
    }
}

/// OpenAI chunks as the Responses stream: `response.created`, then per output item its
/// `output_item.added`, deltas (`output_text.delta`, `function_call_arguments.delta`) and
/// `.done` events, and at the end `response.completed` (or `response.incomplete`) with every
/// item and the usage, which OpenAI's chat stream sends last. Every event has its
/// `sequence_number`.
public struct ResponsesStreamWriter: ClientStreamWriter {
    private let echo: ResponsesEcho
    private let id: String
    private let createdAt = Int(Date().timeIntervalSince1970)
    private var sequence = 0
    private var started = false
    /// Each output item's JSON, by output index (an empty object while it is being written).
    private var output: [Data] = []
    /// The message being written: its item id, output index and text so far.
    private var message: (id: String, index: Int, text: String)?
    /// Function calls by chat `tool_calls` index: item id, output index, call id, name, arguments.
    private var calls: [Int: (id: String, index: Int, callID: String, name: String, arguments: String)] = [:]
    private var openCalls: [Int] = []
    private var incomplete = false
    private var usage: TokenUsage?

    public init(chatRequest: Data, id: String? = nil) {
        echo = ResponsesEcho(chat: chatRequest)
        self.id = id ?? ResponsesFromChat.newID("resp_")
    }

    /// The finished response, as `response.completed` carried it; nil before the end.
    public private(set) var finalResponse: Data?

    public mutating func write(_ event: RelayedEvent, to out: inout ByteBuffer) -> Bool {
        guard let chunk = (try? JSONSerialization.jsonObject(with: event.event.data)) as? [String: Any] else { return false }
        if !started {
            started = true
            let skeleton = echo.response(id: id, createdAt: createdAt, status: "in_progress", output: [], usage: nil, incomplete: false)
            emit("response.created", ["response": skeleton], to: &out)
            emit("response.in_progress", ["response": skeleton], to: &out)
        }
        if case .usage(let reported, _) = event.kind { usage = reported }
        var wrote = false
        for choice in chunk["choices"] as? [[String: Any]] ?? [] {
            let delta = choice["delta"] as? [String: Any] ?? [:]
            if let text = delta["content"] as? String, !text.isEmpty {
                closeCalls(to: &out)
                if message == nil { openMessage(to: &out) }
                message?.text += text
                emit("response.output_text.delta", [
                    "item_id": message!.id, "output_index": message!.index, "content_index": 0, "delta": text, "logprobs": [Any](),
                ], to: &out)
                wrote = true
            }
            for call in delta["tool_calls"] as? [[String: Any]] ?? [] {
                closeMessage(to: &out)
                let key = call["index"] as? Int ?? 0
                let function = call["function"] as? [String: Any]
                if calls[key] == nil {
                    let item = (ResponsesFromChat.newID("fc_"), output.count, call["id"] as? String ?? ResponsesFromChat.newID("call_"),
                                function?["name"] as? String ?? "", "")
                    calls[key] = item
                    openCalls.append(key)
                    output.append(Data("{}".utf8))
                    emit("response.output_item.added", [
                        "output_index": item.1,
                        "item": ResponsesFromChat.functionCall(id: item.0, callID: item.2, name: item.3, arguments: "", status: "in_progress"),
                    ], to: &out)
                }
                if let arguments = function?["arguments"] as? String, !arguments.isEmpty, let open = calls[key] {
                    calls[key]?.arguments += arguments
                    emit("response.function_call_arguments.delta", ["item_id": open.id, "output_index": open.index, "delta": arguments], to: &out)
                }
                wrote = true
            }
            if let finish = choice["finish_reason"] as? String { incomplete = finish == "length" }
        }
        return wrote
    }

    public mutating func finish(to out: inout ByteBuffer) {
        closeMessage(to: &out)
        closeCalls(to: &out)
        let items = output.map { (try? JSONSerialization.jsonObject(with: $0)) as? [String: Any] ?? [:] }
        let response = echo.response(
            id: id, createdAt: createdAt, status: incomplete ? "incomplete" : "completed", output: items,
            usage: usage ?? TokenUsage(promptTokens: 0, completionTokens: 0), incomplete: incomplete)
        finalResponse = try? JSONSerialization.data(withJSONObject: response)
        emit(incomplete ? "response.incomplete" : "response.completed", ["response": response], to: &out)
    }

    public mutating func fail(to out: inout ByteBuffer) {
        emit("error", [
            "code": "upstream_error", "message": "The upstream stream failed after it had started. The answer is incomplete.", "param": NSNull(),
        ], to: &out)
    }

    private mutating func openMessage(to out: inout ByteBuffer) {
        let opened = (ResponsesFromChat.newID("msg_"), output.count, "")
        message = opened
        output.append(Data("{}".utf8))
        var item = ResponsesFromChat.message(id: opened.0, text: "", status: "in_progress")
        item["content"] = [Any]()
        emit("response.output_item.added", ["output_index": opened.1, "item": item], to: &out)
        emit("response.content_part.added", [
            "item_id": opened.0, "output_index": opened.1, "content_index": 0,
            "part": ["type": "output_text", "text": "", "annotations": [Any]()],
        ], to: &out)
    }

    private mutating func closeMessage(to out: inout ByteBuffer) {
        guard let open = message else { return }
        message = nil
        let part: [String: Any] = ["type": "output_text", "text": open.text, "annotations": [Any]()]
        emit("response.output_text.done", [
            "item_id": open.id, "output_index": open.index, "content_index": 0, "text": open.text, "logprobs": [Any](),
        ], to: &out)
        emit("response.content_part.done", ["item_id": open.id, "output_index": open.index, "content_index": 0, "part": part], to: &out)
        let item = ResponsesFromChat.message(id: open.id, text: open.text, status: "completed")
        output[open.index] = Self.json(item)
        emit("response.output_item.done", ["output_index": open.index, "item": item], to: &out)
    }

    private mutating func closeCalls(to out: inout ByteBuffer) {
        for key in openCalls {
            guard let call = calls[key] else { continue }
            emit("response.function_call_arguments.done", [
                "item_id": call.id, "output_index": call.index, "name": call.name, "arguments": call.arguments,
            ], to: &out)
            let item = ResponsesFromChat.functionCall(id: call.id, callID: call.callID, name: call.name, arguments: call.arguments, status: "completed")
            output[call.index] = Self.json(item)
            emit("response.output_item.done", ["output_index": call.index, "item": item], to: &out)
        }
        openCalls = []
    }

    private static func json(_ object: [String: Any]) -> Data { (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8) }

    private mutating func emit(_ type: String, _ fields: [String: Any], to out: inout ByteBuffer) {
        var object = fields
        object["type"] = type
        object["sequence_number"] = sequence
        sequence += 1
        let data = (try? JSONSerialization.data(withJSONObject: object)) ?? Data("{}".utf8)
        out.writeEvent(ServerSentEvent(event: type, data: data))
    }
}
