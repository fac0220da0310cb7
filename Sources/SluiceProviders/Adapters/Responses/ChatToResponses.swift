import Foundation
import SluiceCore

/// An OpenAI chat request as a Responses API request, for an account that speaks only Responses
/// (Codex-style accounts). The body has been validated as a chat request already; what Responses
/// cannot carry is a 400 that names the parameter. The gateway never asks such an upstream to
/// keep the conversation (`store: false`): chat clients send it whole each time.
enum ChatToResponses {
    static func translate(_ body: Data, stream: Bool) throws(GatewayError) -> Data {
        guard let chat = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            throw .invalidRequest("The request body must be a JSON object.")
        }
        if let n = chat["n"] as? Int, n != 1 { throw .invalidRequest("This model's provider returns one choice: `n` must be 1.", param: "n") }
        var instructions: [String] = []
        var input: [[String: Any]] = []
        for (index, raw) in (chat["messages"] as? [Any] ?? []).enumerated() {
            let param = "messages[\(index)]"
            guard let message = raw as? [String: Any], let role = message["role"] as? String else {
                throw .invalidRequest("Each message must be an object with a `role`.", param: param)
            }
            switch role {
            case "system", "developer":
                // The leading system turns are the instructions; a later one stays in its place.
                let text = try self.text(message["content"], param: "\(param).content")
                if input.isEmpty { instructions.append(text) } else { input.append(["type": "message", "role": "developer", "content": text]) }
            case "user":
                input.append(["type": "message", "role": "user", "content": try userContent(message["content"], param: "\(param).content")])
            case "assistant":
                if let content = message["content"], !(content is NSNull) {
                    let text = try self.text(content, param: "\(param).content")
                    if !text.isEmpty {
                        input.append(["type": "message", "role": "assistant", "content": [["type": "output_text", "text": text]]])
                    }
                }
                for (callIndex, rawCall) in (message["tool_calls"] as? [Any] ?? []).enumerated() {
                    guard let call = rawCall as? [String: Any], let id = call["id"] as? String,
                          let function = call["function"] as? [String: Any], let name = function["name"] as? String
                    else { throw .invalidRequest("A tool call needs an id and a function name.", param: "\(param).tool_calls[\(callIndex)]") }
                    input.append(["type": "function_call", "call_id": id, "name": name, "arguments": function["arguments"] as? String ?? "{}"])
                }
            case "tool":
                guard let id = message["tool_call_id"] as? String else {
                    throw .invalidRequest("A tool message needs its `tool_call_id`.", param: "\(param).tool_call_id")
                }
                input.append(["type": "function_call_output", "call_id": id, "output": try self.text(message["content"], param: "\(param).content")])
            default:
                throw .invalidRequest("Messages with role `\(role)` cannot be sent to this model's provider.", param: "\(param).role")
            }
        }
        var out: [String: Any] = ["model": chat["model"] ?? "", "input": input, "store": false]
        if !instructions.isEmpty { out["instructions"] = instructions.joined(separator: "\n\n") }
        if stream { out["stream"] = true }
        if let max = (chat["max_completion_tokens"] as? Int) ?? (chat["max_tokens"] as? Int) { out["max_output_tokens"] = max }
        for key in ["temperature", "top_p"] where chat[key] is NSNumber { out[key] = chat[key] }
        for key in ["user", "safety_identifier", "prompt_cache_key"] { if let value = chat[key] as? String { out[key] = value } }
        if let parallel = chat["parallel_tool_calls"] as? Bool { out["parallel_tool_calls"] = parallel }
        if let effort = chat["reasoning_effort"] as? String { out["reasoning"] = ["effort": effort] }
        if let format = chat["response_format"] as? [String: Any] { out["text"] = ["format": try textFormat(format)] }
        if let tools = chat["tools"] as? [Any], !tools.isEmpty { out["tools"] = try self.tools(tools) }
        if let choice = chat["tool_choice"] {
            if let mode = choice as? String {
                out["tool_choice"] = mode
            } else if let name = ((choice as? [String: Any])?["function"] as? [String: Any])?["name"] as? String {
                out["tool_choice"] = ["type": "function", "name": name]
            } else {
                throw .invalidRequest("`tool_choice` must be none, auto, required or a function.", param: "tool_choice")
            }
        }
        guard let data = try? JSONText.data(out) else { throw .invalidRequest("The request could not be translated.") }
        return data
    }

    /// A user turn's content: text as it is, parts as `input_text` and `input_image`.
    static func userContent(_ content: Any?, param: String) throws(GatewayError) -> Any {
        if let text = content as? String { return text }
        guard let parts = content as? [Any] else { throw .invalidRequest("Content must be a string or a list of parts.", param: param) }
        return try parts.enumerated().map { (index, raw) throws(GatewayError) -> [String: Any] in
            let part = raw as? [String: Any] ?? [:]
            switch part["type"] as? String {
            case "text": return ["type": "input_text", "text": part["text"] as? String ?? ""]
            case "image_url":
                guard let url = (part["image_url"] as? [String: Any])?["url"] as? String else {
                    throw .invalidRequest("An image part needs `image_url.url`.", param: "\(param)[\(index)].image_url")
                }
                var image: [String: Any] = ["type": "input_image", "image_url": url]
                if let detail = (part["image_url"] as? [String: Any])?["detail"] as? String { image["detail"] = detail }
                return image
            case let type:
                throw .invalidRequest("Content parts of type `\(type ?? "none")` cannot be sent to this model's provider.", param: "\(param)[\(index)].type")
            }
        }
    }

    /// Text content, or the text parts of a list joined.
    static func text(_ content: Any?, param: String) throws(GatewayError) -> String {
        if let text = content as? String { return text }
        guard let parts = content as? [[String: Any]] else { throw .invalidRequest("Content must be a string or a list of text parts.", param: param) }
        return parts.compactMap { $0["text"] as? String }.joined()
    }

    static func textFormat(_ format: [String: Any]) throws(GatewayError) -> [String: Any] {
        switch format["type"] as? String {
        case "text": return ["type": "text"]
        case "json_object": return ["type": "json_object"]
        case "json_schema":
            let schema = format["json_schema"] as? [String: Any] ?? [:]
            var out: [String: Any] = ["type": "json_schema", "name": schema["name"] as? String ?? "response", "schema": schema["schema"] ?? [String: Any]()]
            if let strict = schema["strict"] as? Bool { out["strict"] = strict }
            return out
        default: throw .invalidRequest("`response_format.type` must be text, json_object or json_schema.", param: "response_format.type")
        }
    }

    static func tools(_ tools: [Any]) throws(GatewayError) -> [[String: Any]] {
        try tools.enumerated().map { (index, raw) throws(GatewayError) -> [String: Any] in
            guard let tool = raw as? [String: Any], tool["type"] as? String == "function", let function = tool["function"] as? [String: Any],
                  let name = function["name"] as? String
            else { throw .invalidRequest("Only function tools can be sent to this model's provider.", param: "tools[\(index)]") }
            var out: [String: Any] = ["type": "function", "name": name, "parameters": function["parameters"] ?? ["type": "object"]]
            if let description = function["description"] as? String { out["description"] = description }
            // Responses makes function tools strict unless told; chat does not.
            out["strict"] = function["strict"] as? Bool ?? false
            return out
        }
    }
}
