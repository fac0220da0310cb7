import Foundation
import NIOCore
import SluiceCore

/// Writes a Responses stream, and keeps the finished response for `previous_response_id`.
public protocol ResponsesWriter: ClientStreamWriter {
    /// The finished response, as the stream's `response.completed` carried it; nil before the end.
    var finalResponse: Data? { get }
}

/// A Responses stream passed through from an account that speaks Responses: each event as it
/// came. Its `response.completed` (or `.incomplete`) is the end and is written as it came, so
/// `finish` adds nothing; after a break, `fail` writes the API's `error` event.
public struct ResponsesPassThroughWriter: ResponsesWriter {
    /// The fields of the `error` event that ends a broken stream.
    static var midStreamError: [String: Any] {
        ["code": "upstream_error", "message": "The upstream stream failed after it had started. The answer is incomplete.", "param": NSNull()]
    }

    /// The last event's data, read for its `response` only when the answer is kept.
    private var lastEvent: Data?
    private var sequence = 0

    public init() {}

    public var finalResponse: Data? {
        guard let lastEvent, let event = (try? JSONSerialization.jsonObject(with: lastEvent)) as? [String: Any],
              let response = event["response"] as? [String: Any]
        else { return nil }
        return try? JSONText.data(response)
    }

    public mutating func write(_ event: RelayedEvent, to out: inout ByteBuffer) -> Bool {
        out.writeEvent(event.event)
        lastEvent = event.event.data
        sequence += 1
        return event.kind == .output
    }

    public mutating func finish(to out: inout ByteBuffer) {}

    public mutating func fail(to out: inout ByteBuffer) {
        var error = Self.midStreamError
        error["type"] = "error"
        error["sequence_number"] = sequence
        let data = (try? JSONText.data(error)) ?? Data("{}".utf8)
        out.writeEvent(ServerSentEvent(event: "error", data: data))
    }
}

/// OpenAI chunks as the Responses stream: `response.created`, then per output item its
/// `output_item.added`, deltas (`output_text.delta`, `function_call_arguments.delta`) and
/// `.done` events, and at the end `response.completed` (or `response.incomplete`) with every
/// item and the usage, which OpenAI's chat stream sends last. Every event has its
/// `sequence_number`.
public struct ResponsesStreamWriter: ResponsesWriter {
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

    /// `request` is the client's body, whose fields the response repeats.
    public init(request: Data, id: String? = nil) {
        echo = ResponsesEcho(request: request)
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
        finalResponse = try? JSONText.data(response)
        emit(incomplete ? "response.incomplete" : "response.completed", ["response": response], to: &out)
    }

    public mutating func fail(to out: inout ByteBuffer) {
        emit("error", ResponsesPassThroughWriter.midStreamError, to: &out)
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

    private static func json(_ object: [String: Any]) -> Data { (try? JSONText.data(object)) ?? Data("{}".utf8) }

    private mutating func emit(_ type: String, _ fields: [String: Any], to out: inout ByteBuffer) {
        var object = fields
        object["type"] = type
        object["sequence_number"] = sequence
        sequence += 1
        let data = (try? JSONText.data(object)) ?? Data("{}".utf8)
        out.writeEvent(ServerSentEvent(event: type, data: data))
    }
}
