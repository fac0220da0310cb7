import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SluiceCore

/// The wire protocol an upstream speaks, as its manifest names it (`wire_protocol`).
public enum WireProtocol: String, Sendable, CaseIterable {
    case openAIChat = "openai-chat"
    case anthropicMessages = "anthropic-messages"
    case geminiGenerateContent = "gemini-generate-content"
    case openAIResponses = "openai-responses"
}

/// A client's request as the gateway holds it: the bytes it sent, in the protocol it spoke, and
/// what the gateway read from them. Adapters build their upstream request from this: an adapter
/// that speaks `clientProtocol` passes the body through, any other gets it in chat form
/// (`prepared(for:)`).
public struct GatewayRequest: Sendable {
    /// The client's body, exactly as it arrived.
    public var body: ByteBuffer
    /// The same bytes, as the parsers and rewrites read them (made once, by the route).
    public var bytes: Data
    public var summary: ChatRequestSummary
    /// The protocol `body` is in: OpenAI chat, or the client's own when it spoke another.
    public var clientProtocol: WireProtocol
    /// The client's `anthropic-beta` header, passed on to Anthropic upstreams.
    public var anthropicBeta: String?
    /// The client's `anthropic-version`, passed on with a Messages body passed through.
    public var anthropicVersion: String?
    /// What the client asks for: an answer, embeddings of its input, or the count of its input
    /// tokens (`/v1/messages/count_tokens`, which only an account of the client's protocol answers).
    public var operation: Operation = .chat
    /// The client API as the usage log names it (`openai-responses`, say).
    public var clientAPI: String?
    /// The id the answer is kept under, for a Responses request whose answer is kept.
    public var responseID: String?
    /// The kept conversation a Responses request continues (`previous_response_id`), as
    /// `ResponsesConversation` keeps it.
    public var continued: Data?

    public enum Operation: Sendable { case chat, embeddings, countTokens }

    public init(
        body: ByteBuffer, bytes: Data, summary: ChatRequestSummary, clientProtocol: WireProtocol = .openAIChat, anthropicBeta: String? = nil,
        anthropicVersion: String? = nil
    ) {
        self.body = body
        self.bytes = bytes
        self.summary = summary
        self.clientProtocol = clientProtocol
        self.anthropicBeta = anthropicBeta
        self.anthropicVersion = anthropicVersion
    }

    /// The request for an adapter that speaks `wireProtocol`: as it is when that is the client's
    /// protocol or chat, else translated to chat, which every adapter reads. Throws the client's
    /// 400 for what chat cannot carry.
    public func prepared(for wireProtocol: WireProtocol) throws(GatewayError) -> GatewayRequest {
        if operation == .countTokens, clientProtocol != wireProtocol {
            // Another protocol's account would answer the request, and be paid for it, not count it.
            throw .invalidRequest("Only an account that speaks the client's API counts its tokens.")
        }
        guard clientProtocol != .openAIChat else { return self }
        if clientProtocol == wireProtocol {
            // A continued conversation goes up whole: the account may not be the one that answered.
            guard let continued else { return self }
            return replacingBody(try ResponsesConversation.splice(bytes, previous: continued), protocol: clientProtocol)
        }
        let chat: Data
        switch clientProtocol {
        case .anthropicMessages: chat = try MessagesToChat.translate(bytes)
        case .geminiGenerateContent: chat = try GeminiToChat.translate(bytes, model: summary.model, stream: summary.stream)
        case .openAIResponses: chat = try ResponsesToChat.translate(bytes, previous: continued)
        case .openAIChat: return self
        }
        // The chat form asks for usage itself, as the native summaries say the client does, so
        // no adapter edits it again.
        return replacingBody(chat, protocol: .openAIChat)
    }

    private func replacingBody(_ bytes: Data, protocol wireProtocol: WireProtocol) -> GatewayRequest {
        var request = self
        request.bytes = bytes
        request.body = ByteBuffer(data: bytes)
        request.clientProtocol = wireProtocol
        return request
    }

    /// Whether the body goes to an account of `wireProtocol` as the client sent it.
    public func passesThrough(to wireProtocol: WireProtocol) -> Bool { clientProtocol != .openAIChat && clientProtocol == wireProtocol }

    /// The request as one target of an alias receives it: under the target's name, in the body
    /// when the body names its model (a Gemini body does not: its URL does). Itself when it
    /// already names `model`.
    public func serving(_ model: String) -> GatewayRequest {
        guard model != summary.model else { return self }
        var request = self
        request.summary.model = model
        if let edited = ChatRequestRewrite.replacingModel(bytes, with: model) {
            request.bytes = edited
            request.body = ByteBuffer(data: edited)
        }
        return request
    }

    /// The smallest request `model` accepts, one token out: what a verification probe sends.
    public static func probe(model: String) -> GatewayRequest? {
        let payload: [String: Any] = ["model": model, "max_tokens": 1, "messages": [["role": "user", "content": "ping"]]]
        guard let body = try? JSONText.data(payload), let summary = try? ChatRequestSummary.parse(body)
        else { return nil }
        return GatewayRequest(body: ByteBuffer(data: body), bytes: body, summary: summary)
    }
}

/// One upstream HTTP request, ready for `UpstreamHTTPClient.execute`.
public struct UpstreamRequest: Sendable {
    public var method: HTTPMethod
    public var url: String
    public var headers: HTTPHeaders
    public var body: ByteBuffer
}

extension UpstreamRequest {
    /// A JSON POST to `path` under the account's base URL, authorized as its manifest says,
    /// accepting an event stream or JSON as `stream` says (nothing said when nil), with `extra`
    /// headers besides.
    static func jsonPost(_ path: String, body: ByteBuffer, stream: Bool?, to target: UpstreamTarget, extra: [(String, String)] = []) -> UpstreamRequest {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        if let stream { headers.add(name: "accept", value: stream ? "text/event-stream" : "application/json") }
        headers.add(contentsOf: extra)
        target.authorize(&headers)
        return UpstreamRequest(method: .POST, url: target.url(path), headers: headers, body: body)
    }
}

/// A whole (non-streaming) answer: the body the client gets, and the usage it reports.
public struct WholeAnswer: Sendable {
    public var body: ByteBuffer
    public var usage: TokenUsage?
}

/// What one upstream stream event means to the relay: output, usage (cached tokens included),
/// the end, an in-band error, or anything else.
public typealias StreamEventKind = ResponseInspection.ChunkKind

/// One event for the client, in OpenAI's chunk format, and what it means. `.done` and `.error`
/// carry no payload the client sees: the relay writes the end and the error itself.
public struct RelayedEvent: Sendable, Equatable {
    public var kind: StreamEventKind
    public var event: ServerSentEvent

    public init(_ kind: StreamEventKind, _ event: ServerSentEvent) {
        self.kind = kind
        self.event = event
    }
}

/// Turns one request's upstream stream into OpenAI chunks, event by event, as they arrive. It
/// may keep state across events (a translated stream's id, open blocks and usage); it never
/// holds an event back that it can already write.
public protocol StreamTranslator: Sendable {
    /// Reads one upstream event and hands `emit` what the client gets for it, in order: nothing,
    /// one event, or several. `needOutputCheck` is true until the first output has been seen;
    /// after that, only usage, errors and the end must be told apart from output.
    mutating func translate(_ event: ServerSentEvent, needOutputCheck: Bool, emit: (RelayedEvent) -> Void)

    /// The body has ended: what the client gets last, for a protocol with no end event of its own.
    mutating func finish(emit: (RelayedEvent) -> Void)
}

extension StreamTranslator {
    public mutating func finish(emit: (RelayedEvent) -> Void) {}
}

/// How the gateway speaks one wire protocol to an upstream, in the spirit of TensorZero's
/// provider trait: the dispatcher, the relay and settlement call only these, so they do not know
/// which protocol an account speaks. `ProviderCatalog.adapter(for:)` picks one by the manifest's
/// `wire_protocol`.
///
/// An adapter only builds and reads: it never sends, buffers a stream, or touches the pool.
public protocol ProviderAdapter: Sendable {
    var wireProtocol: WireProtocol { get }

    /// The upstream request for `request`, sent as `target`. A streaming request must ask the
    /// upstream to report usage, whether or not the client asked. Throws a `GatewayError` (400)
    /// for a request this protocol cannot carry, naming the parameter.
    func upstreamRequest(for request: GatewayRequest, to target: UpstreamTarget) throws -> UpstreamRequest

    /// Reads a whole answer, as the client gets it; nil when the body is not one (an upstream
    /// that answered 200 with a login page or an error, a proxy's error, or a broken body), so
    /// the dispatcher can fail over.
    func readWhole(_ body: ByteBuffer) -> WholeAnswer?

    /// Reads a whole answer to `request`; an adapter that passes a client's own protocol through
    /// reads its answer as it came. By default, `readWhole(_:)`.
    func readWhole(_ body: ByteBuffer, for request: GatewayRequest) -> WholeAnswer?

    /// What reads this request's streaming answer.
    func streamTranslator(for request: GatewayRequest) -> any StreamTranslator

    /// The body the client gets for an error the upstream answered with (a rejection of the
    /// request), in OpenAI's error shape; nil when the upstream's body says nothing usable.
    func clientError(status: Int, body: ByteBuffer) -> ByteBuffer?

    /// What a failed response says about the account, for `model`. `body` is the error body, when read.
    func assessFailure(status: Int, body: Data?, model: String) -> FailureAssessment

    /// Whether a failed response is the request's own fault, which another account would answer
    /// the same way: the client then sees the upstream's answer and no account is marked. `body`
    /// is the error body, when read.
    func isRequestRejection(status: Int, body: Data?) -> Bool
}

extension ProviderAdapter {
    public func readWhole(_ body: ByteBuffer, for request: GatewayRequest) -> WholeAnswer? { readWhole(body) }

    /// Every 4xx but those that speak of the account (401, 402, 403), the model on it (404), or
    /// its limits (408, 429).
    public func isRequestRejection(status: Int, body: Data?) -> Bool { Self.isRejectionStatus(status) }

    public static func isRejectionStatus(_ status: Int) -> Bool {
        (400..<500).contains(status) && ![401, 402, 403, 404, 408, 429].contains(status)
    }

    /// The upstream's own body when it is already in OpenAI's shape (an `error` object).
    public func clientError(status: Int, body: ByteBuffer) -> ByteBuffer? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any], object["error"] is [String: Any]
        else { return nil }
        return body
    }
}

extension ProviderCatalog {
    /// The adapter for the wire protocol `manifest` names.
    public func adapter(for manifest: ProviderManifest) -> any ProviderAdapter {
        switch manifest.wireProtocol {
        case .openAIChat: OpenAIChatAdapter()
        case .anthropicMessages: AnthropicMessagesAdapter(manifest: manifest)
        case .geminiGenerateContent: GeminiGenerateContentAdapter()
        case .openAIResponses: OpenAIResponsesAdapter()
        }
    }
}
