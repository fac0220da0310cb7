import Foundation
import SluiceCore

/// An OpenAI chat request as a Gemini `generateContent` request. What Gemini cannot carry is a
/// 400 that names the parameter.
///
/// Gemini has no tool-call ids of its own to rely on, and wants the function's name with each
/// result: results are matched to their call through the conversation's assistant `tool_calls`.
/// A call's `thoughtSignature`, which Gemini needs back on a later turn, travels inside the
/// call's id (`GeminiAnswer.toolCallID`), so no gateway state is needed.
enum GeminiRequest {
    /// Thinking budgets for OpenAI's `reasoning_effort`; `none` and `minimal` turn thinking off.
    static let thinkingBudgets = ["none": 0, "minimal": 0, "low": 1024, "medium": 8192, "high": 24576]

    static func translate(_ body: Data) throws(GatewayError) -> Data {
        guard let chat = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            throw .invalidRequest("The request body must be a JSON object.")
        }
        if let n = chat["n"] as? Int, n != 1 { throw .invalidRequest("This model's provider returns one choice: `n` must be 1.", param: "n") }
        let rawMessages = chat["messages"] as? [Any] ?? []
        var callNames: [String: String] = [:]
        for case let message as [String: Any] in rawMessages {
            for case let call as [String: Any] in message["tool_calls"] as? [Any] ?? [] {
                if let id = call["id"] as? String, let name = (call["function"] as? [String: Any])?["name"] as? String { callNames[id] = name }
            }
        }
        var system: [[String: Any]] = []
        var contents = AlternatingTurns(partsKey: "parts")
        for (index, raw) in rawMessages.enumerated() {
            let param = "messages[\(index)]"
            guard let message = raw as? [String: Any], let role = message["role"] as? String else {
                throw .invalidRequest("Each message must be an object with a `role`.", param: param)
            }
            switch role {
            case "system", "developer":
                system += try AnthropicRequest.textBlocks(message["content"], param: param).map { ["text": $0["text"] ?? ""] }
            case "user":
                contents.append(role: "user", try userParts(message["content"], param: param))
            case "assistant":
                contents.append(role: "model", try modelParts(message, param: param))
            case "tool":
                let (id, text) = try AnthropicRequest.toolResult(message, param: param)
                guard let name = callNames[id] else {
                    throw .invalidRequest("No assistant tool call has the id `\(id)`.", param: "\(param).tool_call_id")
                }
                // Gemini wants an object: a JSON object result is one, anything else is wrapped.
                let result = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? ["result": text]
                contents.append(role: "user", [["functionResponse": ["name": name, "response": result]]])
            default:
                throw .invalidRequest("Messages with role `\(role)` cannot be sent to this model's provider.", param: "\(param).role")
            }
        }
        var out: [String: Any] = ["contents": contents.list]
        if !system.isEmpty { out["systemInstruction"] = ["parts": system] }
        if let tools = chat["tools"] as? [Any], !tools.isEmpty {
            let declarations = try AnthropicRequest.tools(tools).map { tool -> [String: Any] in
                var declaration: [String: Any] = ["name": tool["name"] ?? "", "parametersJsonSchema": tool["input_schema"] ?? [:]]
                if let description = tool["description"] { declaration["description"] = description }
                return declaration
            }
            out["tools"] = [["functionDeclarations": declarations]]
        }
        if let config = try toolConfig(chat["tool_choice"]) { out["toolConfig"] = ["functionCallingConfig": config] }
        let generation = try generationConfig(chat)
        if !generation.isEmpty { out["generationConfig"] = generation }
        guard let data = try? JSONText.data(out) else { throw .invalidRequest("The request could not be translated.") }
        return data
    }

    /// Text and images, from the same parts Anthropic's translation reads.
    static func userParts(_ content: Any?, param: String) throws(GatewayError) -> [[String: Any]] {
        try AnthropicRequest.contentBlocks(content, param: param).map { block -> [String: Any] in
            guard block["type"] as? String == "image", let source = block["source"] as? [String: Any] else { return ["text": block["text"] ?? ""] }
            if source["type"] as? String == "base64" {
                return ["inlineData": ["mimeType": source["media_type"] ?? "image/png", "data": source["data"] ?? ""]]
            }
            let url = source["url"] as? String ?? ""
            return ["fileData": ["fileUri": url, "mimeType": mimeType(ofImageAt: url)]]
        }
    }

    static func mimeType(ofImageAt url: String) -> String {
        let path = URL(string: url)?.path.lowercased() ?? ""
        if path.hasSuffix(".png") { return "image/png" }
        if path.hasSuffix(".webp") { return "image/webp" }
        if path.hasSuffix(".gif") { return "image/gif" }
        return "image/jpeg"
    }

    /// An assistant turn: its text and its function calls, each with the signature it came with.
    static func modelParts(_ message: [String: Any], param: String) throws(GatewayError) -> [[String: Any]] {
        var parts = try AnthropicRequest.textBlocks(message["content"], param: param).map { ["text": $0["text"] ?? ""] as [String: Any] }
        for block in try AnthropicRequest.assistantBlocks(["tool_calls": message["tool_calls"] ?? []], param: param) {
            guard let id = block["id"] as? String else { continue }
            var part: [String: Any] = ["functionCall": ["name": block["name"] ?? "", "args": block["input"] ?? [:]]]
            if let signature = GeminiAnswer.signature(inToolCallID: id) { part["thoughtSignature"] = signature }
            parts.append(part)
        }
        return parts
    }

    static func toolConfig(_ raw: Any?) throws(GatewayError) -> [String: Any]? {
        switch try AnthropicRequest.toolChoice(raw, parallel: nil)?["type"] as? String {
        case nil: return nil
        case "auto": return ["mode": "AUTO"]
        case "none": return ["mode": "NONE"]
        case "any": return ["mode": "ANY"]
        default:
            let name = ((raw as? [String: Any])?["function"] as? [String: Any])?["name"] as? String ?? ""
            return ["mode": "ANY", "allowedFunctionNames": [name]]
        }
    }

    static func generationConfig(_ chat: [String: Any]) throws(GatewayError) -> [String: Any] {
        var config: [String: Any] = [:]
        if let max = (chat["max_completion_tokens"] as? Int) ?? (chat["max_tokens"] as? Int) { config["maxOutputTokens"] = max }
        if let temperature = chat["temperature"] as? Double { config["temperature"] = temperature }
        if let topP = chat["top_p"] as? Double { config["topP"] = topP }
        if let stop = chat["stop"] as? String { config["stopSequences"] = [stop] } else if let stop = chat["stop"] as? [String] { config["stopSequences"] = stop }
        if let effort = chat["reasoning_effort"] as? String {
            guard let budget = thinkingBudgets[effort] else {
                throw .invalidRequest("`reasoning_effort` must be none, minimal, low, medium or high.", param: "reasoning_effort")
            }
            config["thinkingConfig"] = budget == 0 ? ["thinkingBudget": 0] : ["thinkingBudget": budget, "includeThoughts": true]
        }
        if let format = chat["response_format"] as? [String: Any] {
            switch format["type"] as? String {
            case "text", nil: break
            case "json_object": config["responseMimeType"] = "application/json"
            case "json_schema":
                guard let schema = (format["json_schema"] as? [String: Any])?["schema"] else {
                    throw .invalidRequest("`response_format.json_schema.schema` is required.", param: "response_format")
                }
                config["responseMimeType"] = "application/json"
                config["responseJsonSchema"] = schema
            case let other?:
                throw .invalidRequest("`response_format` type `\(other)` is not supported.", param: "response_format")
            }
        }
        return config
    }
}
