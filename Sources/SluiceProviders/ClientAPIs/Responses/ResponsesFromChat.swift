import Foundation
import NIOCore
import SluiceCore

/// What a Responses answer repeats of its request (its model, instructions, tools and limits),
/// read from the client's body when an answer is written (kept as bytes, so a stream's writer
/// stays `Sendable`).
struct ResponsesEcho: Sendable {
    let request: Data

    init(request: Data) { self.request = request }

    /// A `response` object: `status` completed, incomplete or in progress.
    func response(id: String, createdAt: Int, status: String, output: [[String: Any]], usage: TokenUsage?, incomplete: Bool) -> [String: Any] {
        let request = (try? JSONSerialization.jsonObject(with: self.request)) as? [String: Any] ?? [:]
        let tools = (request["tools"] as? [[String: Any]] ?? []).map { tool -> [String: Any] in
            var tool = tool
            tool["strict"] = tool["strict"] ?? NSNull()
            return tool
        }
        let text = request["text"] as? [String: Any] ?? ["format": ["type": "text"]]
        var object: [String: Any] = [
            "id": id, "object": "response", "created_at": createdAt, "status": status, "model": request["model"] as? String ?? "",
            "output": output, "tools": tools, "tool_choice": request["tool_choice"] ?? "auto",
            "parallel_tool_calls": request["parallel_tool_calls"] as? Bool ?? true, "instructions": request["instructions"] ?? NSNull(),
            "max_output_tokens": request["max_output_tokens"] ?? NSNull(), "previous_response_id": request["previous_response_id"] ?? NSNull(),
            "error": NSNull(), "incomplete_details": incomplete ? ["reason": "max_output_tokens"] : NSNull(),
            "metadata": request["metadata"] as? [String: Any] ?? [:], "text": text, "store": request["store"] as? Bool ?? true,
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

    /// A `chat.completion` as a `response`, under `id` when one was given; nil when the body is not a completion.
    public static func response(fromCompletion body: Data, request: Data, usage: TokenUsage?, id: String? = nil) -> Data? {
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
        let response = ResponsesEcho(request: request).response(
            id: id ?? newID("resp_"), createdAt: completion["created"] as? Int ?? Int(Date().timeIntervalSince1970),
            status: incomplete ? "incomplete" : "completed", output: output, usage: usage ?? TokenUsage(promptTokens: 0, completionTokens: 0),
            incomplete: incomplete)
        return try? JSONText.data(response)
    }
}
