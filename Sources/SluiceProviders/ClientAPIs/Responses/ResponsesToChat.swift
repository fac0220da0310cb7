import Foundation
import SluiceCore

/// An OpenAI Responses request (`POST /v1/responses`, as Codex and the Agents SDK send it) in
/// chat form, which every adapter reads: `instructions` and `input` (text or items, function
/// calls and their outputs) become messages, function tools become chat tools, `text.format`
/// becomes `response_format` and `reasoning.effort` `reasoning_effort`. What chat cannot carry
/// is a 400 naming the field. A request that continues a kept response (`previous_response_id`)
/// gets that conversation first: `previous`, its items as `ResponsesConversation` keeps them.
public enum ResponsesToChat {
    public static func translate(_ body: Data, previous: Data? = nil) throws(GatewayError) -> Data {
        guard let request = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            throw .invalidRequest("We could not parse the JSON body of your request. It is not valid JSON.")
        }
        guard let model = request["model"] as? String, !model.isEmpty else {
            throw .invalidRequest("Missing required parameter: 'model'.", param: "model")
        }
        var messages: [[String: Any]] = []
        if let instructions = request["instructions"] as? String, !instructions.isEmpty {
            messages.append(["role": "system", "content": instructions])
        }
        // The instructions are this request's; the conversation is the kept one's.
        if let previous, let items = (try? JSONSerialization.jsonObject(with: previous)) as? [Any] {
            messages += try self.messages(items, param: "previous_response_id")
        }
        switch request["input"] {
        case let text as String: messages.append(["role": "user", "content": text])
        case let items as [Any]: messages += try self.messages(items, param: "input")
        default: throw .invalidRequest("Missing required parameter: 'input'.", param: "input")
        }
        var out: [String: Any] = ["model": model, "messages": messages]
        if request["stream"] as? Bool == true {
            out["stream"] = true
            out["stream_options"] = ["include_usage": true]
        }
        if let max = request["max_output_tokens"] as? Int { out["max_tokens"] = max }
        for key in ["temperature", "top_p"] where request[key] is NSNumber { out[key] = request[key] }
        if let user = request["user"] as? String { out["user"] = user }
        if let parallel = request["parallel_tool_calls"] as? Bool { out["parallel_tool_calls"] = parallel }
        if let effort = (request["reasoning"] as? [String: Any])?["effort"] as? String { out["reasoning_effort"] = effort }
        if let format = (request["text"] as? [String: Any])?["format"] as? [String: Any] { out["response_format"] = try responseFormat(format) }
        if let tools = request["tools"] as? [Any], !tools.isEmpty { out["tools"] = try self.tools(tools) }
        if let choice = request["tool_choice"] {
            if let name = choice as? String {
                out["tool_choice"] = name
            } else if let object = choice as? [String: Any], object["type"] as? String == "function", let name = object["name"] as? String {
                out["tool_choice"] = ["type": "function", "function": ["name": name]]
            } else {
                throw .invalidRequest("'tool_choice' must be auto, none, required or a function.", param: "tool_choice")
            }
        }
        guard let data = try? JSONText.data(out) else { throw .invalidRequest("The request could not be translated.") }
        return data
    }

    /// Input items as chat messages; consecutive function calls join one assistant turn.
    static func messages(_ items: [Any], param list: String) throws(GatewayError) -> [[String: Any]] {
        var messages: [[String: Any]] = []
        for (index, raw) in items.enumerated() {
            let param = "\(list)[\(index)]"
            guard let item = raw as? [String: Any] else { throw .invalidRequest("'\(param)' must be an object.", param: param) }
            switch item["type"] as? String ?? "message" {
            case "message":
                guard let role = item["role"] as? String else { throw .invalidRequest("Missing required parameter: '\(param).role'.", param: "\(param).role") }
                let content = try self.content(item["content"], param: "\(param).content")
                switch role {
                case "user": messages.append(["role": "user", "content": content])
                case "assistant": messages.append(["role": "assistant", "content": text(of: content)])
                case "system", "developer": messages.append(["role": "system", "content": text(of: content)])
                default: throw .invalidRequest("'\(param).role' must be user, assistant, system or developer.", param: "\(param).role")
                }
            case "function_call":
                guard let callID = item["call_id"] as? String, let name = item["name"] as? String else {
                    throw .invalidRequest("A function_call item needs 'call_id' and 'name'.", param: param)
                }
                let call: [String: Any] = ["id": callID, "type": "function", "function": ["name": name, "arguments": item["arguments"] as? String ?? "{}"]]
                if var last = messages.last, last["role"] as? String == "assistant" {
                    last["tool_calls"] = (last["tool_calls"] as? [[String: Any]] ?? []) + [call]
                    messages[messages.count - 1] = last
                } else {
                    messages.append(["role": "assistant", "content": NSNull(), "tool_calls": [call]])
                }
            case "function_call_output":
                guard let callID = item["call_id"] as? String else {
                    throw .invalidRequest("Missing required parameter: '\(param).call_id'.", param: "\(param).call_id")
                }
                let output: String
                if let plain = item["output"] as? String { output = plain } else { output = text(of: try content(item["output"], param: "\(param).output")) }
                messages.append(["role": "tool", "tool_call_id": callID, "content": output])
            case "reasoning":
                continue  // the provider's own reasoning: nothing chat can send back
            case let type:
                throw .invalidRequest("Input items of type '\(type)' cannot be served here.", param: "\(param).type")
            }
        }
        return messages
    }

    /// Content as chat parts: text and images.
    static func content(_ raw: Any?, param: String) throws(GatewayError) -> Any {
        if let text = raw as? String { return text }
        guard let parts = raw as? [Any] else { throw .invalidRequest("'\(param)' must be a string or a list of parts.", param: param) }
        return try parts.enumerated().map { (index, raw) throws(GatewayError) -> [String: Any] in
            let partParam = "\(param)[\(index)]"
            guard let part = raw as? [String: Any] else { throw .invalidRequest("'\(partParam)' must be an object.", param: partParam) }
            switch part["type"] as? String {
            case "input_text", "output_text", "text": return ["type": "text", "text": part["text"] as? String ?? ""]
            case "input_image":
                guard let url = part["image_url"] as? String else {
                    throw .invalidRequest("Only images given by 'image_url' can be served here.", param: "\(partParam).image_url")
                }
                return ["type": "image_url", "image_url": ["url": url]]
            case let type:
                throw .invalidRequest("Content parts of type '\(type ?? "none")' cannot be served here.", param: "\(partParam).type")
            }
        }
    }

    static func text(of content: Any) -> String {
        if let text = content as? String { return text }
        return (content as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }.joined()
    }

    static func responseFormat(_ format: [String: Any]) throws(GatewayError) -> [String: Any] {
        switch format["type"] as? String {
        case "text": return ["type": "text"]
        case "json_object": return ["type": "json_object"]
        case "json_schema":
            var schema: [String: Any] = ["name": format["name"] as? String ?? "response", "schema": format["schema"] ?? [String: Any]()]
            if let strict = format["strict"] as? Bool { schema["strict"] = strict }
            return ["type": "json_schema", "json_schema": schema]
        default: throw .invalidRequest("'text.format.type' must be text, json_object or json_schema.", param: "text.format.type")
        }
    }

    static func tools(_ tools: [Any]) throws(GatewayError) -> [[String: Any]] {
        try tools.enumerated().map { (index, raw) throws(GatewayError) -> [String: Any] in
            guard let tool = raw as? [String: Any], tool["type"] as? String == "function", let name = tool["name"] as? String else {
                throw .invalidRequest("Only function tools can be served here.", param: "tools[\(index)].type")
            }
            var function: [String: Any] = ["name": name, "parameters": tool["parameters"] ?? ["type": "object"]]
            if let description = tool["description"] as? String { function["description"] = description }
            if let strict = tool["strict"] as? Bool { function["strict"] = strict }
            return ["type": "function", "function": function]
        }
    }
}
