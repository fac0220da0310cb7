import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore
import SluiceProviders
import SluiceStore

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
    /// What is looked up for a request before it is served: the kept conversation it continues,
    /// and the id its answer will be kept under, if any.
    func continuation(of body: Data, key: APIKeyRecord) async throws -> (continued: Data?, responseID: String?)
    /// What the API keeps of a finished answer (the Responses API, its conversation).
    func keep(_ answer: KeptAnswer, of request: GatewayRequest, key: APIKeyRecord) async
    /// Whether `keep` keeps anything of this request's answer. A stream holds on to its request
    /// only then: a request body can be large, and a stream can stay open for minutes.
    func keeps(_ request: GatewayRequest) -> Bool
    /// Whether a key flagged `record_conversations` has this API's exchanges recorded in the
    /// chat session its `x-session-id` names (see `ConversationRecorder`).
    var recordsConversations: Bool { get }
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
    func continuation(of body: Data, key: APIKeyRecord) async throws -> (continued: Data?, responseID: String?) { (nil, nil) }
    func keep(_ answer: KeptAnswer, of request: GatewayRequest, key: APIKeyRecord) async {}
    func keeps(_ request: GatewayRequest) -> Bool { false }
    var recordsConversations: Bool { false }
    /// A bearer token, as OpenAI's APIs take it.
    func authorization(_ request: Request) -> String? { request.headers[.authorization] }
    /// The upstream's refusal in OpenAI's shape, as the adapter writes it.
    func rejectionBody(status: Int, body: ByteBuffer, passedThrough: Bool, adapter: any ProviderAdapter) -> ByteBuffer? {
        adapter.clientError(status: status, body: body)
    }
    /// OpenAI's error shape, which `OpenAIErrorMiddleware` writes.
    func errorResponse(_ error: GatewayError) -> Response? { nil }
}

/// A finished answer: the whole body the client got, or the writer that wrote its stream.
enum KeptAnswer {
    case whole(ByteBuffer)
    case stream(any ClientStreamWriter)
}

/// `POST /v1/chat/completions`: OpenAI's chat, which every adapter reads and writes.
struct ChatCompletionsAPI: ClientAPI {
    var wireProtocol: WireProtocol { .openAIChat }
    var recordsConversations: Bool { true }

    func summary(of body: Data, request: Request) throws(GatewayError) -> ChatRequestSummary { try ChatRequestSummary.parse(body) }

    func wholeBody(_ whole: WholeAnswer, for request: GatewayRequest, model: String, passedThrough: Bool) -> ByteBuffer? { whole.body }

    func streamWriter(for request: GatewayRequest, passedThrough: Bool) -> any ClientStreamWriter {
        ChatChunkWriter(clientWantsUsage: request.summary.clientIncludeUsage)
    }
}

/// `POST /v1/embeddings`: OpenAI's embeddings, passed through to OpenAI-compatible accounts and
/// translated to Gemini's `batchEmbedContents`; a whole answer, charged by its input tokens.
struct EmbeddingsAPI: ClientAPI {
    var wireProtocol: WireProtocol { .openAIChat }
    var operation: GatewayRequest.Operation { .embeddings }
    var logName: String { "openai-embeddings" }

    func summary(of body: Data, request: Request) throws(GatewayError) -> ChatRequestSummary { try ChatRequestSummary.parseEmbeddings(body) }

    func wholeBody(_ whole: WholeAnswer, for request: GatewayRequest, model: String, passedThrough: Bool) -> ByteBuffer? { whole.body }

    /// Never asked for: an embeddings request does not stream.
    func streamWriter(for request: GatewayRequest, passedThrough: Bool) -> any ClientStreamWriter { ChatChunkWriter(clientWantsUsage: false) }
}

/// `POST /v1/responses`: OpenAI's Responses API, as Codex and the Agents SDK speak it. Accounts
/// that speak Responses get the body as it came; the others get it in chat form
/// (`ResponsesToChat`), and their answers are written back as a `response` or the `response.*`
/// event stream. Unless the client says `store: false`, a finished answer is kept with its
/// conversation for `retention`, for the key that asked, and a later request of that key may
/// continue it by `previous_response_id`.
struct ResponsesAPI: ClientAPI {
    let store: any ResponseStore
    let retention: TimeInterval
    let clock: any WallClock

    var wireProtocol: WireProtocol { .openAIResponses }

    func continuation(of body: Data, key: APIKeyRecord) async throws -> (continued: Data?, responseID: String?) {
        let continuation = ResponsesContinuation(body)
        let responseID = continuation.store && retention > 0 ? ResponsesFromChat.newID("resp_") : nil
        guard let id = continuation.previousResponseID else { return (nil, responseID) }
        let kept: String?
        do { kept = retention > 0 ? try await store.storedResponse(id: id, apiKeyID: key.id, now: clock.now()) : nil } catch {
            throw GatewayError.dependencyUnavailable("The gateway cannot reach its store of responses right now.")
        }
        guard let kept else {
            throw GatewayError.invalidRequest("'previous_response_id' names no response kept for this key.", param: "previous_response_id")
        }
        return (Data(kept.utf8), responseID)
    }

    /// A response is kept unless the client said `store: false` (or retention is off).
    func keeps(_ request: GatewayRequest) -> Bool { request.responseID != nil }

    /// Keeps the conversation under the response's own id: the one the client was given, ours
    /// for a translated answer, the upstream's for one passed through.
    func keep(_ answer: KeptAnswer, of request: GatewayRequest, key: APIKeyRecord) async {
        guard keeps(request) else { return }
        let response: Data?
        switch answer {
        case .whole(let body): response = Data(buffer: body)
        case .stream(let writer): response = (writer as? any ResponsesWriter)?.finalResponse
        }
        guard let response, let kept = ResponsesConversation.kept(request: request.bytes, previous: request.continued, response: response)
        else { return }
        let now = clock.now()
        // A conversation that cannot be kept is refused when continued, naming the parameter.
        try? await store.saveResponse(
            id: kept.id, apiKeyID: key.id, messages: String(decoding: kept.conversation, as: UTF8.self), now: now,
            expiresAt: now.addingTimeInterval(retention))
    }

    func summary(of body: Data, request: Request) throws(GatewayError) -> ChatRequestSummary { try ChatRequestSummary.parseResponses(body) }

    func wholeBody(_ whole: WholeAnswer, for request: GatewayRequest, model: String, passedThrough: Bool) -> ByteBuffer? {
        if passedThrough { return whole.body }
        return ResponsesFromChat.response(fromCompletion: Data(buffer: whole.body), request: request.bytes, usage: whole.usage, id: request.responseID)
            .map { ByteBuffer(data: $0) }
    }

    func streamWriter(for request: GatewayRequest, passedThrough: Bool) -> any ClientStreamWriter {
        passedThrough ? ResponsesPassThroughWriter() : ResponsesStreamWriter(request: request.bytes, id: request.responseID)
    }
}
