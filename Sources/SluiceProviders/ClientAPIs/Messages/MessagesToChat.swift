import Foundation
import SluiceCore

/// An Anthropic Messages request as an OpenAI chat request, for accounts that do not speak
/// Messages (OpenAI-compatible ones, and Gemini through its own adapter). An Anthropic account
/// gets the client's body as it came instead. What chat cannot say is a 400 naming the field,
/// never a silent drop; thinking blocks are dropped on purpose, since their signatures mean
/// something only to Anthropic.
enum MessagesToChat {
    /// OpenAI's `reasoning_effort` for an Anthropic thinking budget.
    static func reasoningEffort(budget: Int) -> String { budget <= 2048 ? "low" : budget <= 8192 ? "medium" : "high" }

    static func translate(_ body: Data) throws(GatewayError) -> Data {
        guard let request = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            throw .invalidRequest("The request body must be a JSON object.")
        }
        var messages: [[String: Any]] = []
        if let system = request["system"], !(system is NSNull) {
            let text = try texts(system, param: "system").joined(separator: "\n")
            if !text.isEmpty { messages.append(["role": "system", "content": text]) }
        }
        for (index, raw) in (request["messages"] as? [Any] ?? []).enumerated() {
            let param = "messages.\(index)"
            guard let message = raw as? [String: Any] else { throw .invalidRequest("\(param): Input should be an object", param: param) }
            if message["role"] as? String == "assistant" {
                messages.append(try assistant(message["content"], param: "\(param).content"))
            } else {
                messages += try user(message["content"], param: "\(param).content")
            }
        }
        var out: [String: Any] = ["model": request["model"] ?? "", "messages": messages]
        out["max_tokens"] = request["max_tokens"]
        if request["stream"] as? Bool == true {
            out["stream"] = true
            out["stream_options"] = ["include_usage": true]
        }
        for key in ["temperature", "top_p"] where request[key] is NSNumber { out[key] = request[key] }
        if let stop = request["stop_sequences"] as? [String], !stop.isEmpty { out["stop"] = stop }
        if let user = (request["metadata"] as? [String: Any])?["user_id"] as? String, !user.isEmpty { out["user"] = user }
        if let thinking = request["thinking"] as? [String: Any], thinking["type"] as? String == "enabled", let budget = thinking["budget_tokens"] as? Int {
            out["reasoning_effort"] = reasoningEffort(budget: budget)
        }
        if let tools = request["tools"] as? [Any], !tools.isEmpty { out["tools"] = try self.tools(tools) }
        if let choice = request["tool_choice"] as? [String: Any] {
            let (openAIChoice, parallel) = try toolChoice(choice)
            out["tool_choice"] = openAIChoice
            if let parallel { out["parallel_tool_calls"] = parallel }
        }
        guard let data = try? JSONText.data(out) else { throw .invalidRequest("The request could not be translated.") }
        return data
    }

    /// A string, or text blocks: the texts.
    static func texts(_ content: Any?, param: String) throws(GatewayError) -> [String] {
        if let text = content as? String { return [text] }
        guard let blocks = content as? [Any] else { throw .invalidRequest("\(param): Input should be a string or a list of blocks", param: param) }
        return try blocks.enumerated().map { (index, raw) throws(GatewayError) -> String in
            guard let block = raw as? [String: Any], block["type"] as? String == "text", let text = block["text"] as? String else {
                throw .invalidRequest("\(param).\(index): only text blocks can be sent to this model's provider here", param: "\(param).\(index)")
            }
            return text
        }
    }

    /// A user turn: its tool results as `tool` messages first (they answer the assistant turn
    /// before), then the rest of its content as one user message.
    static func user(_ content: Any?, param: String) throws(GatewayError) -> [[String: Any]] {
        if let text = content as? String { return [["role": "user", "content": text]] }
        guard let blocks = content as? [Any] else { throw .invalidRequest("\(param): Input should be a string or a list of blocks", param: param) }
        var results: [[String: Any]] = []
        var parts: [[String: Any]] = []
        for (index, raw) in blocks.enumerated() {
            let blockParam = "\(param).\(index)"
            guard let block = raw as? [String: Any] else { throw .invalidRequest("\(blockParam): Input should be an object", param: blockParam) }
            switch block["type"] as? String {
            case "text": parts.append(["type": "text", "text": block["text"] as? String ?? ""])
            case "image": parts.append(try image(block, param: blockParam))
            case "tool_result":
                guard let id = block["tool_use_id"] as? String else {
                    throw .invalidRequest("\(blockParam).tool_use_id: Field required", param: "\(blockParam).tool_use_id")
                }
                let content = block["content"]
                let text = content == nil || content is NSNull ? [] : try texts(content, param: "\(blockParam).content")
                results.append(["role": "tool", "tool_call_id": id, "content": text.joined(separator: "\n")])
            case let type:
                throw .invalidRequest("\(blockParam): \(type ?? "untyped") blocks can only be served by an Anthropic model", param: blockParam)
            }
        }
        return results + (parts.isEmpty ? [] : [["role": "user", "content": parts]])
    }

    /// An assistant turn: its text, and its tool uses as `tool_calls`.
    static func assistant(_ content: Any?, param: String) throws(GatewayError) -> [String: Any] {
        if let text = content as? String { return ["role": "assistant", "content": text] }
        guard let blocks = content as? [Any] else { throw .invalidRequest("\(param): Input should be a string or a list of blocks", param: param) }
        var text: [String] = []
        var calls: [[String: Any]] = []
        for (index, raw) in blocks.enumerated() {
            let blockParam = "\(param).\(index)"
            guard let block = raw as? [String: Any] else { throw .invalidRequest("\(blockParam): Input should be an object", param: blockParam) }
            switch block["type"] as? String {
            case "text": text.append(block["text"] as? String ?? "")
            case "tool_use":
                let input = block["input"] ?? [String: Any]()
                let arguments = (try? JSONText.data(input)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
                calls.append([
                    "id": block["id"] as? String ?? "", "type": "function",
                    "function": ["name": block["name"] as? String ?? "", "arguments": arguments],
                ])
            case "thinking", "redacted_thinking": continue
            case let type:
                throw .invalidRequest("\(blockParam): \(type ?? "untyped") blocks can only be served by an Anthropic model", param: blockParam)
            }
        }
        var message: [String: Any] = ["role": "assistant", "content": text.isEmpty ? NSNull() : text.joined()]
        if !calls.isEmpty { message["tool_calls"] = calls }
        return message
    }

    /// An image block as an `image_url` part: base64 data as a data URL, or the URL itself.
    static func image(_ block: [String: Any], param: String) throws(GatewayError) -> [String: Any] {
        let source = block["source"] as? [String: Any] ?? [:]
        switch source["type"] as? String {
        case "base64":
            guard let mediaType = source["media_type"] as? String, let data = source["data"] as? String else {
                throw .invalidRequest("\(param).source: media_type and data are required", param: "\(param).source")
            }
            return ["type": "image_url", "image_url": ["url": "data:\(mediaType);base64,\(data)"]]
        case "url":
            guard let url = source["url"] as? String else { throw .invalidRequest("\(param).source.url: Field required", param: "\(param).source.url") }
            return ["type": "image_url", "image_url": ["url": url]]
        default:
            throw .invalidRequest("\(param).source: only base64 and url images can be sent to this model's provider", param: "\(param).source")
        }
    }

    static func tools(_ tools: [Any]) throws(GatewayError) -> [[String: Any]] {
        try tools.enumerated().map { (index, raw) throws(GatewayError) -> [String: Any] in
            guard let tool = raw as? [String: Any], let name = tool["name"] as? String else {
                throw .invalidRequest("tools.\(index).name: Field required", param: "tools.\(index).name")
            }
            if let type = tool["type"] as? String, type != "custom" {
                throw .invalidRequest("tools.\(index): the server tool \(type) can only be served by an Anthropic model", param: "tools.\(index)")
            }
            var function: [String: Any] = ["name": name, "parameters": tool["input_schema"] ?? ["type": "object"]]
            if let description = tool["description"] as? String { function["description"] = description }
            return ["type": "function", "function": function]
        }
    }

    /// OpenAI's `tool_choice`, and `parallel_tool_calls` when the client turned parallel use off.
    static func toolChoice(_ choice: [String: Any]) throws(GatewayError) -> (Any, Bool?) {
        let parallel: Bool? = choice["disable_parallel_tool_use"] as? Bool == true ? false : nil
        switch choice["type"] as? String {
        case "auto": return ("auto", parallel)
        case "any": return ("required", parallel)
        case "none": return ("none", nil)
        case "tool":
            guard let name = choice["name"] as? String else { throw .invalidRequest("tool_choice.name: Field required", param: "tool_choice.name") }
            return (["type": "function", "function": ["name": name]], parallel)
        default:
            throw .invalidRequest("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'", param: "tool_choice.type")
        }
    }
}
