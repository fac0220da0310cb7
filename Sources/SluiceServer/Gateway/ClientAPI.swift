import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore
import SluiceProviders

/// What differs between the client protocols the hot path serves. The steps (authenticate,
/// read, admit, hold, dispatch, relay, settle) are `GatewayHandler`'s and the same for all; a
/// client API says how its key and body are read and how answers and errors are written.
///
/// Answers come from the dispatcher in OpenAI's chat shapes, or in the client's own protocol
/// when the account speaks it and the body was passed through (`passedThrough`).
protocol ClientAPI: Sendable {
    var wireProtocol: WireProtocol { get }
    /// An answer, by default; embeddings for `/v1/embeddings`.
    var operation: GatewayRequest.Operation { get }
    /// The client API as the usage log names it: the protocol's name, by default.
    var logName: String { get }
    /// The body in chat form, for an API no account speaks, translated once on arrival; nil
    /// keeps the client's body.
    func chatBody(_ body: Data) throws(GatewayError) -> Data?
    /// The key, as an `Authorization` value.
    func authorization(_ request: Request) -> String?
    /// What the gateway reads from the body, and from the URL for a protocol that puts the model there.
    func summary(of body: Data, request: Request) throws(GatewayError) -> ChatRequestSummary
    /// The body of a whole answer; nil when it cannot be written in this protocol.
    func wholeBody(_ whole: WholeAnswer, for request: GatewayRequest, model: String, passedThrough: Bool) -> ByteBuffer?
    /// An upstream's refusal of the request, in this route's error shape; nil when it says nothing usable.
    func rejectionBody(status: Int, body: ByteBuffer, passedThrough: Bool, adapter: any ProviderAdapter) -> ByteBuffer?
    func streamWriter(for request: GatewayRequest, passedThrough: Bool) -> any ClientStreamWriter
    /// An error as this route writes it; nil leaves it to `OpenAIErrorMiddleware`.
    func errorResponse(_ error: GatewayError) -> Response?
}

extension ClientAPI {
    var operation: GatewayRequest.Operation { .chat }
    var logName: String { wireProtocol.rawValue }
    func chatBody(_ body: Data) throws(GatewayError) -> Data? { nil }
}

/// `POST /v1/chat/completions`: OpenAI's chat, which every adapter reads and writes.
struct ChatCompletionsAPI: ClientAPI {
    var wireProtocol: WireProtocol { .openAIChat }

    func authorization(_ request: Request) -> String? { request.headers[.authorization] }

    func summary(of body: Data, request: Request) throws(GatewayError) -> ChatRequestSummary { try ChatRequestSummary.parse(body) }

    func wholeBody(_ whole: WholeAnswer, for request: GatewayRequest, model: String, passedThrough: Bool) -> ByteBuffer? { whole.body }

    func rejectionBody(status: Int, body: ByteBuffer, passedThrough: Bool, adapter: any ProviderAdapter) -> ByteBuffer? {
        adapter.clientError(status: status, body: body)
    }

    func streamWriter(for request: GatewayRequest, passedThrough: Bool) -> any ClientStreamWriter {
        ChatChunkWriter(clientWantsUsage: request.summary.clientIncludeUsage)
    }

    func errorResponse(_ error: GatewayError) -> Response? { nil }
}

/// `POST /v1/embeddings`: OpenAI's embeddings, passed through to OpenAI-compatible accounts and
/// translated to Gemini's `batchEmbedContents`; a whole answer, charged by its input tokens.
struct EmbeddingsAPI: ClientAPI {
    var wireProtocol: WireProtocol { .openAIChat }
    var operation: GatewayRequest.Operation { .embeddings }
    var logName: String { "openai-embeddings" }

    func authorization(_ request: Request) -> String? { request.headers[.authorization] }

    func summary(of body: Data, request: Request) throws(GatewayError) -> ChatRequestSummary { try ChatRequestSummary.parseEmbeddings(body) }

    func wholeBody(_ whole: WholeAnswer, for request: GatewayRequest, model: String, passedThrough: Bool) -> ByteBuffer? { whole.body }

    func rejectionBody(status: Int, body: ByteBuffer, passedThrough: Bool, adapter: any ProviderAdapter) -> ByteBuffer? {
        adapter.clientError(status: status, body: body)
    }

    /// Never asked for: an embeddings request does not stream.
    func streamWriter(for request: GatewayRequest, passedThrough: Bool) -> any ClientStreamWriter { ChatChunkWriter(clientWantsUsage: false) }

    func errorResponse(_ error: GatewayError) -> Response? { nil }
}

/// `POST /v1/responses`: OpenAI's Responses API, as Codex and the Agents SDK speak it. No
/// account speaks it, so it is translated to chat on arrival (`ResponsesToChat`) and its answers
/// written back as a `response` or the `response.*` event stream.
struct ResponsesAPI: ClientAPI {
    var wireProtocol: WireProtocol { .openAIChat }
    var logName: String { "openai-responses" }

    func chatBody(_ body: Data) throws(GatewayError) -> Data? { try ResponsesToChat.translate(body) }

    func authorization(_ request: Request) -> String? { request.headers[.authorization] }

    func summary(of body: Data, request: Request) throws(GatewayError) -> ChatRequestSummary { try ChatRequestSummary.parse(body) }

    func wholeBody(_ whole: WholeAnswer, for request: GatewayRequest, model: String, passedThrough: Bool) -> ByteBuffer? {
        ResponsesFromChat.response(fromCompletion: Data(buffer: whole.body), chatRequest: request.bytes, usage: whole.usage).map { ByteBuffer(data: $0) }
    }

    func rejectionBody(status: Int, body: ByteBuffer, passedThrough: Bool, adapter: any ProviderAdapter) -> ByteBuffer? {
        adapter.clientError(status: status, body: body)
    }

    func streamWriter(for request: GatewayRequest, passedThrough: Bool) -> any ClientStreamWriter {
        ResponsesStreamWriter(chatRequest: request.bytes)
    }

    func errorResponse(_ error: GatewayError) -> Response? { nil }
}
