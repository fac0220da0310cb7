import Foundation
import SluiceCore

/// A Gemini `generateContent` request as an OpenAI chat request, for accounts that do not speak
/// Gemini. Gemini's function calls carry no ids, so calls are numbered here and each
/// `functionResponse` answers the oldest open call of its name.
enum GeminiToChat {
    static func translate(_ body: Data, model: String, stream: Bool) throws(GatewayError) -> Data {
        guard let request = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            throw .invalidRequest("Invalid JSON payload received.")
        }
        var messages: [[String: Any]] = []
        if let system = request["systemInstruction"] as? [String: Any] {
            let text = texts(system["parts"]).joined(separator: "\n")
            if !text.isEmpty { messages.append(["role": "system", "content": text]) }
        }
        var openCalls: [String: [String]] = [:]
        var nextCall = 0
        for (index, raw) in (request["contents"] as? [Any] ?? []).enumerated() {
            let param = "contents[\(index)]"
            guard let content = raw as? [String: Any] else { throw .invalidRequest("\(param) must be an object.", param: param) }
            let parts = content["parts"] as? [[String: Any]] ?? []
            if content["role"] as? String == "model" {
                var text = ""
                var calls: [[String: Any]] = []
                for part in parts {
                    if let call = part["functionCall"] as? [String: Any] {
                        let name = call["name"] as? String ?? ""
                        let id = call["id"] as? String ?? "call_\(nextCall)"
                        nextCall += 1
                        openCalls[name, default: []].append(id)
                        let arguments = (try? JSONText.data(call["args"] ?? [String: Any]())).map { String(decoding: $0, as: UTF8.self) }
                        calls.append(["id": id, "type": "function", "function": ["name": name, "arguments": arguments ?? "{}"]])
                    } else if let partText = part["text"] as? String, part["thought"] as? Bool != true {
                        text += partText
                    }
                }
                var message: [String: Any] = ["role": "assistant", "content": text.isEmpty ? NSNull() : text]
                if !calls.isEmpty { message["tool_calls"] = calls }
                messages.append(message)
                continue
            }
            var userParts: [[String: Any]] = []
            for (partIndex, part) in parts.enumerated() {
                if let text = part["text"] as? String {
                    userParts.append(["type": "text", "text": text])
                } else if let data = part["inlineData"] as? [String: Any], let mime = data["mimeType"] as? String, let bytes = data["data"] as? String {
                    userParts.append(["type": "image_url", "image_url": ["url": "data:\(mime);base64,\(bytes)"]])
                } else if let response = part["functionResponse"] as? [String: Any] {
                    let name = response["name"] as? String ?? ""
                    let id = response["id"] as? String ?? (openCalls[name]?.isEmpty == false ? openCalls[name]!.removeFirst() : "call_\(name)")
                    let output = (try? JSONText.data(response["response"] ?? [String: Any]())).map { String(decoding: $0, as: UTF8.self) }
                    messages.append(["role": "tool", "tool_call_id": id, "content": output ?? "{}"])
                } else {
                    throw .invalidRequest("\(param).parts[\(partIndex)] can only be served by a Gemini model.", param: "\(param).parts[\(partIndex)]")
                }
            }
            if !userParts.isEmpty { messages.append(["role": "user", "content": userParts]) }
        }
        var out: [String: Any] = ["model": model, "messages": messages]
        if stream {
            out["stream"] = true
            out["stream_options"] = ["include_usage": true]
        }
        let config = request["generationConfig"] as? [String: Any] ?? [:]
        if let value = config["temperature"] as? NSNumber { out["temperature"] = value }
        if let value = config["topP"] as? NSNumber { out["top_p"] = value }
        if let value = config["maxOutputTokens"] as? Int { out["max_tokens"] = value }
        if let stop = config["stopSequences"] as? [String], !stop.isEmpty { out["stop"] = stop }
        if config["responseMimeType"] as? String == "application/json" {
            if let schema = config["responseJsonSchema"] ?? config["responseSchema"] {
                out["response_format"] = ["type": "json_schema", "json_schema": ["name": "response", "schema": schema]]
            } else {
                out["response_format"] = ["type": "json_object"]
            }
        }
        let declarations = (request["tools"] as? [[String: Any]] ?? []).flatMap { $0["functionDeclarations"] as? [[String: Any]] ?? [] }
        if !declarations.isEmpty {
            out["tools"] = declarations.map { declaration -> [String: Any] in
                var function: [String: Any] = [
                    "name": declaration["name"] as? String ?? "",
                    "parameters": declaration["parametersJsonSchema"] ?? declaration["parameters"] ?? ["type": "object"],
                ]
                if let description = declaration["description"] as? String { function["description"] = description }
                return ["type": "function", "function": function]
            }
        }
        if let calling = (request["toolConfig"] as? [String: Any])?["functionCallingConfig"] as? [String: Any] {
            switch calling["mode"] as? String {
            case "ANY":
                if let names = calling["allowedFunctionNames"] as? [String], names.count == 1 {
                    out["tool_choice"] = ["type": "function", "function": ["name": names[0]]]
                } else {
                    out["tool_choice"] = "required"
                }
            case "NONE": out["tool_choice"] = "none"
            default: break
            }
        }
        guard let data = try? JSONText.data(out) else { throw .invalidRequest("The request could not be translated.") }
        return data
    }

    static func texts(_ parts: Any?) -> [String] {
        (parts as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
    }
}
