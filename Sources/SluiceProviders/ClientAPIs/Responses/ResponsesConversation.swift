import Foundation
import SluiceCore

/// A Responses conversation as the gateway keeps it for `previous_response_id`: a list of input
/// items in the Responses API's own form (the earlier inputs, then the answer's output items), so
/// a continuation can go to an account that speaks Responses as items and to any other as chat
/// messages. Instructions are not part of it: they belong to each request.
public enum ResponsesConversation {
    /// A request's `input` as items: text is one user message.
    static func inputItems(_ input: Any?) -> [Any] {
        if let text = input as? String { return [["type": "message", "role": "user", "content": text]] }
        return input as? [Any] ?? []
    }

    /// The body an account that speaks Responses gets for a request that continues `previous`:
    /// the kept items before its own input, and no `previous_response_id`, which that account
    /// (perhaps not the one that answered) would not know.
    public static func splice(_ body: Data, previous: Data) throws(GatewayError) -> Data {
        guard var request = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any],
              let kept = (try? JSONSerialization.jsonObject(with: previous)) as? [Any]
        else { throw .invalidRequest("We could not parse the JSON body of your request. It is not valid JSON.") }
        request["input"] = kept + inputItems(request["input"])
        request["previous_response_id"] = nil
        guard let data = try? JSONText.data(request) else { throw .invalidRequest("The request could not be sent.") }
        return data
    }

    /// The conversation to keep after `response` answered `request` (which continued `previous`,
    /// if anything), and the id it is kept under: the response's own. Output items keep only what
    /// an input item needs; reasoning items are the provider's and are left out. Nil when the
    /// response is not one.
    public static func kept(request: Data, previous: Data?, response: Data) -> (id: String, conversation: Data)? {
        guard let answer = (try? JSONSerialization.jsonObject(with: response)) as? [String: Any], let id = answer["id"] as? String,
              let output = answer["output"] as? [[String: Any]],
              let body = (try? JSONSerialization.jsonObject(with: request)) as? [String: Any]
        else { return nil }
        var items = previous.flatMap { (try? JSONSerialization.jsonObject(with: $0)) as? [Any] } ?? []
        items += inputItems(body["input"])
        for item in output {
            switch item["type"] as? String {
            case "message":
                items.append(["type": "message", "role": "assistant", "content": item["content"] ?? [Any]()])
            case "function_call":
                items.append([
                    "type": "function_call", "call_id": item["call_id"] ?? "", "name": item["name"] ?? "", "arguments": item["arguments"] ?? "{}",
                ])
            default: continue
            }
        }
        guard let conversation = try? JSONText.data(items) else { return nil }
        return (id, conversation)
    }
}
