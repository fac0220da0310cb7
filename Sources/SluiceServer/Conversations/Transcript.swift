import Foundation
import NIOCore
import SluiceCore
import SluiceProviders
import SluiceStore

/// Reads the messages a recorded exchange leaves in its chat session, in OpenAI's chat shapes:
/// the last user message of the request and the assistant's answer. Run by the recorder, off
/// the request path, so it may parse whole bodies.
enum Transcript {
    /// The longest text kept of one message, in bytes; the session API takes no longer one.
    static let maxContent = 1_000_000

    /// The user message carries the prompt's tokens; the answer carries the completion's and
    /// the request's whole charge, so a session's totals are what its requests used and cost.
    static func messages(of exchange: ConversationRecorder.Exchange) -> [NewChatMessage] {
        var messages: [NewChatMessage] = []
        if let question = lastUserText(inRequest: exchange.request) {
            messages.append(
                NewChatMessage(
                    role: "user", content: clipped(question), tokens: exchange.usage.promptTokens, requestID: exchange.requestID))
        }
        let answer: String?
        switch exchange.answer {
        case .completion(let body): answer = answerText(inCompletion: Data(buffer: body))
        case .streamed(let text): answer = text
        }
        if let answer {
            messages.append(
                NewChatMessage(
                    role: "assistant", content: clipped(answer), tokens: exchange.usage.completionTokens, cost: exchange.cost,
                    metadata: metadata(model: exchange.servedModel ?? exchange.model), requestID: exchange.requestID))
        }
        return messages
    }

    /// The text of the request's last `user` message: a string, or its text parts joined by a
    /// new line (images and other parts are left out).
    static func lastUserText(inRequest body: Data) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            let messages = object["messages"] as? [[String: Any]],
            let last = messages.last(where: { $0["role"] as? String == "user" })
        else { return nil }
        return text(of: last["content"])
    }

    /// The text of a chat completion's first choice; nil when the body is not one.
    static func answerText(inCompletion body: Data) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
            let choice = (object["choices"] as? [[String: Any]])?.first,
            let message = choice["message"] as? [String: Any]
        else { return nil }
        return text(of: message["content"]) ?? ""
    }

    /// The content text of one streamed chunk's first choice, if it has any.
    static func deltaText(inChunk data: Data) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let choice = (object["choices"] as? [[String: Any]])?.first,
            let delta = choice["delta"] as? [String: Any]
        else { return nil }
        return delta["content"] as? String
    }

    private static func text(of content: Any?) -> String? {
        if let string = content as? String { return string }
        guard let parts = content as? [[String: Any]] else { return nil }
        return parts.compactMap { $0["type"] as? String == "text" ? $0["text"] as? String : nil }.joined(separator: "\n")
    }

    private static func metadata(model: String) -> String? {
        guard let data = try? JSONSerialization.data(withJSONObject: ["model": model], options: [.sortedKeys]) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// At most `maxContent` bytes, cut at a character boundary.
    static func clipped(_ text: String) -> String {
        guard text.utf8.count > maxContent else { return text }
        var end = text.utf8.index(text.utf8.startIndex, offsetBy: maxContent)
        while end.samePosition(in: text.unicodeScalars) == nil { end = text.utf8.index(before: end) }
        return String(text.unicodeScalars[..<end])
    }
}

/// Writes a `/v1/chat/completions` stream as its inner writer does, and keeps the text of its
/// output chunks for the recorder, up to `Transcript.maxContent` bytes. Used only for requests
/// that are recorded, so no other stream pays for the parsing.
struct TranscriptWriter: ClientStreamWriter {
    var inner: any ClientStreamWriter
    private(set) var text = ""

    init(wrapping inner: any ClientStreamWriter) { self.inner = inner }

    mutating func write(_ event: RelayedEvent, to out: inout ByteBuffer) -> Bool {
        switch event.kind {
        case .output, .other:
            // After the first output the classifier may call content chunks `.other` (it reads
            // only what it must), so both are read here.
            if text.utf8.count < Transcript.maxContent, let delta = Transcript.deltaText(inChunk: event.event.data) { text += delta }
        case .usage, .done, .error:
            break
        }
        return inner.write(event, to: &out)
    }

    mutating func finish(to out: inout ByteBuffer) { inner.finish(to: &out) }
    mutating func fail(to out: inout ByteBuffer) { inner.fail(to: &out) }
}
