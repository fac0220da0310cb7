import Foundation
import SluiceCore

/// An OpenAI chat request, as a Messages API request. The client's body has been validated as a
/// chat request already (`ChatRequestSummary`); what cannot be said to Anthropic is a 400 that
/// names the parameter, not a silent drop.
enum AnthropicRequest {
    /// Thinking budgets for OpenAI's `reasoning_effort`; Anthropic's minimum budget is 1,024.
    static let thinkingBudgets = ["low": 1024, "medium": 4096, "high": 16384]

    static func translate(_ body: Data, model: String, defaultMaxTokens: Int, stream: Bool) throws(GatewayError) -> Data {
        guard let chat = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            throw .invalidRequest("The request body must be a JSON object.")
        }
        if let n = chat["n"] as? Int, n != 1 { throw .invalidRequest("This model's provider returns one choice: `n` must be 1.", param: "n") }
        var system: [[String: Any]] = []
        var messages = AlternatingTurns(partsKey: "content")
        for (index, raw) in (chat["messages"] as? [Any] ?? []).enumerated() {
            guard let message = raw as? [String: Any], let role = message["role"] as? String else {
                throw .invalidRequest("Each message must be an object with a `role`.", param: "messages[\(index)]")
            }
            let param = "messages[\(index)]"
            switch role {
            case "system", "developer":
                system += try textBlocks(message["content"], param: param)
            case "user":
                messages.append(role: "user", try contentBlocks(message["content"], param: param))
            case "assistant":
                messages.append(role: "assistant", try assistantBlocks(message, param: param))
            case "tool":
                let (id, text) = try toolResult(message, param: param)
                messages.append(role: "user", [["type": "tool_result", "tool_use_id": id, "content": text]])
            default:
                throw .invalidRequest("Messages with role `\(role)` cannot be sent to this model's provider.", param: "\(param).role")
            }
        }
        var out: [String: Any] = ["model": model, "messages": messages.list]
        if let format = try responseFormatInstruction(chat["response_format"]) { system.append(["type": "text", "text": format]) }
        if !system.isEmpty { out["system"] = system }

        let maxTokens = (chat["max_completion_tokens"] as? Int) ?? (chat["max_tokens"] as? Int) ?? defaultMaxTokens
        out["max_tokens"] = maxTokens
        var thinking = false
        if let effort = chat["reasoning_effort"] as? String, let budget = thinkingBudgets[effort] {
            // The budget must stay below max_tokens; too small a room means no thinking at all.
            let fitted = min(budget, maxTokens - 1)
            if fitted >= 1024 {
                out["thinking"] = ["type": "enabled", "budget_tokens": fitted]
                thinking = true
            }
        }
        // With thinking on, Anthropic fixes the sampling; OpenAI's range for temperature is 0-2, Anthropic's 0-1.
        if !thinking, let temperature = chat["temperature"] as? Double { out["temperature"] = min(temperature, 1) }
        if !thinking, let topP = chat["top_p"] as? Double { out["top_p"] = topP }
        if let stop = chat["stop"] as? String { out["stop_sequences"] = [stop] } else if let stop = chat["stop"] as? [String] { out["stop_sequences"] = stop }
        if let user = (chat["user"] as? String) ?? (chat["safety_identifier"] as? String), !user.isEmpty { out["metadata"] = ["user_id": user] }
        if let tools = chat["tools"] as? [Any], !tools.isEmpty { out["tools"] = try self.tools(tools) }
        if let choice = try toolChoice(chat["tool_choice"], parallel: chat["parallel_tool_calls"] as? Bool) { out["tool_choice"] = choice }
        if stream { out["stream"] = true }
        guard let data = try? JSONText.data(out) else { throw .invalidRequest("The request could not be translated.") }
        return data
    }

    /// Text parts only (system, developer and tool messages).
    static func textBlocks(_ content: Any?, param: String) throws(GatewayError) -> [[String: Any]] {
        if let text = content as? String { return text.isEmpty ? [] : [["type": "text", "text": text]] }
        if content == nil || content is NSNull { return [] }
        guard let parts = content as? [Any] else { throw .invalidRequest("`content` must be a string or an array of parts.", param: "\(param).content") }
        return try parts.enumerated().map { (index, part) throws(GatewayError) -> [String: Any] in
            guard let part = part as? [String: Any], part["type"] as? String == "text", let text = part["text"] as? String else {
                throw .invalidRequest("Only text parts are allowed here.", param: "\(param).content[\(index)]")
            }
            return ["type": "text", "text": text]
        }
    }

    /// A tool message: the call it answers and its text.
    static func toolResult(_ message: [String: Any], param: String) throws(GatewayError) -> (callID: String, text: String) {
        guard let id = message["tool_call_id"] as? String else {
            throw .invalidRequest("A tool message needs its `tool_call_id`.", param: "\(param).tool_call_id")
        }
        return (id, try textBlocks(message["content"], param: param).compactMap { $0["text"] as? String }.joined())
    }

    /// A user message's parts: text and images.
    static func contentBlocks(_ content: Any?, param: String) throws(GatewayError) -> [[String: Any]] {
        if let text = content as? String { return [["type": "text", "text": text]] }
        guard let parts = content as? [Any] else { throw .invalidRequest("`content` must be a string or an array of parts.", param: "\(param).content") }
        return try parts.enumerated().map { (index, raw) throws(GatewayError) -> [String: Any] in
            let partParam = "\(param).content[\(index)]"
            guard let part = raw as? [String: Any], let type = part["type"] as? String else {
                throw .invalidRequest("Each content part must be an object with a `type`.", param: partParam)
            }
            switch type {
            case "text":
                return ["type": "text", "text": part["text"] as? String ?? ""]
            case "image_url":
                guard let url = (part["image_url"] as? [String: Any])?["url"] as? String ?? part["image_url"] as? String else {
                    throw .invalidRequest("An image part needs `image_url.url`.", param: partParam)
                }
                return ["type": "image", "source": try imageSource(url, param: partParam)]
            default:
                throw .invalidRequest("Content parts of type `\(type)` cannot be sent to this model's provider.", param: partParam)
            }
        }
    }

    /// A `data:` URL becomes base64 source, an http(s) URL a url source.
    static func imageSource(_ url: String, param: String) throws(GatewayError) -> [String: Any] {
        if url.hasPrefix("data:") {
            let rest = url.dropFirst("data:".count)
            guard let comma = rest.firstIndex(of: ","), rest[..<comma].hasSuffix(";base64") else {
                throw .invalidRequest("An image data URL must be base64 (`data:image/png;base64,…`).", param: param)
            }
            let mediaType = String(rest[..<comma].dropLast(";base64".count))
            return ["type": "base64", "media_type": mediaType, "data": String(rest[rest.index(after: comma)...])]
        }
        guard url.hasPrefix("https://") || url.hasPrefix("http://") else {
            throw .invalidRequest("An image URL must be an http(s) or base64 data URL.", param: param)
        }
        return ["type": "url", "url": url]
    }

    /// An assistant turn: the thinking it must send back (`thinking_blocks`, see `AnthropicAnswer`),
    /// its text, and its tool calls as `tool_use` blocks.
    static func assistantBlocks(_ message: [String: Any], param: String) throws(GatewayError) -> [[String: Any]] {
        var blocks: [[String: Any]] = []
        for block in message["thinking_blocks"] as? [[String: Any]] ?? [] {
            switch block["type"] as? String {
            case "thinking":
                guard let signature = block["signature"] as? String else { continue }
                blocks.append(["type": "thinking", "thinking": block["thinking"] as? String ?? "", "signature": signature])
            case "redacted_thinking":
                if let data = block["data"] as? String { blocks.append(["type": "redacted_thinking", "data": data]) }
            default: continue
            }
        }
        blocks += try textBlocks(message["content"], param: param)
        for (index, raw) in (message["tool_calls"] as? [Any] ?? []).enumerated() {
            let callParam = "\(param).tool_calls[\(index)]"
            guard let call = raw as? [String: Any], let id = call["id"] as? String, let function = call["function"] as? [String: Any],
                  let name = function["name"] as? String
            else { throw .invalidRequest("A tool call needs an `id` and a `function` with a `name`.", param: callParam) }
            let arguments = function["arguments"] as? String ?? "{}"
            guard let input = (try? JSONSerialization.jsonObject(with: Data((arguments.isEmpty ? "{}" : arguments).utf8))) as? [String: Any] else {
                throw .invalidRequest("A tool call's `arguments` must be a JSON object.", param: "\(callParam).function.arguments")
            }
            blocks.append(["type": "tool_use", "id": id, "name": name, "input": input])
        }
        return blocks
    }

    static func tools(_ tools: [Any]) throws(GatewayError) -> [[String: Any]] {
        try tools.enumerated().map { (index, raw) throws(GatewayError) -> [String: Any] in
            guard let tool = raw as? [String: Any], tool["type"] as? String == "function", let function = tool["function"] as? [String: Any],
                  let name = function["name"] as? String
            else { throw .invalidRequest("Only function tools can be sent to this model's provider.", param: "tools[\(index)]") }
            var out: [String: Any] = ["name": name, "input_schema": function["parameters"] as? [String: Any] ?? ["type": "object", "properties": [:]]]
            if let description = function["description"] as? String { out["description"] = description }
            return out
        }
    }

    /// `auto`, `none`, `required` (Anthropic's `any`) or a named function; `parallel_tool_calls:
    /// false` is Anthropic's `disable_parallel_tool_use`.
    static func toolChoice(_ raw: Any?, parallel: Bool?) throws(GatewayError) -> [String: Any]? {
        var choice: [String: Any]?
        switch raw {
        case nil, is NSNull: choice = nil
        case let mode as String:
            switch mode {
            case "auto": choice = ["type": "auto"]
            case "none": choice = ["type": "none"]
            case "required": choice = ["type": "any"]
            default: throw .invalidRequest("`tool_choice` must be auto, none, required or a named function.", param: "tool_choice")
            }
        case let named as [String: Any]:
            guard let name = (named["function"] as? [String: Any])?["name"] as? String else {
                throw .invalidRequest("A named `tool_choice` needs `function.name`.", param: "tool_choice")
            }
            choice = ["type": "tool", "name": name]
        default:
            throw .invalidRequest("`tool_choice` must be a string or an object.", param: "tool_choice")
        }
        if parallel == false {
            var withFlag = choice ?? ["type": "auto"]
            if withFlag["type"] as? String != "none" { withFlag["disable_parallel_tool_use"] = true }
            choice = withFlag
        }
        return choice
    }

    /// Anthropic has no JSON mode: `response_format` becomes an instruction in the system prompt.
    static func responseFormatInstruction(_ raw: Any?) throws(GatewayError) -> String? {
        guard let format = raw as? [String: Any] else { return nil }
        switch format["type"] as? String {
        case "text", nil: return nil
        case "json_object": return "Respond with a single JSON object and nothing else."
        case "json_schema":
            guard let schema = (format["json_schema"] as? [String: Any])?["schema"],
                  let text = try? JSONText.data(schema, sortedKeys: true)
            else { throw .invalidRequest("`response_format.json_schema.schema` is required.", param: "response_format") }
            return "Respond with a single JSON object that matches this JSON schema, and nothing else: " + String(decoding: text, as: UTF8.self)
        case let other?:
            throw .invalidRequest("`response_format` type `\(other)` is not supported.", param: "response_format")
        }
    }
}
