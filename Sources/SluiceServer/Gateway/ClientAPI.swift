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
    /// The key, as an `Authorization` value.
    func authorization(_ headers: HTTPFields) -> String?
    func summary(of body: Data) throws(GatewayError) -> ChatRequestSummary
    /// The body of a whole answer; nil when it cannot be written in this protocol.
    func wholeBody(_ whole: WholeAnswer, model: String, passedThrough: Bool) -> ByteBuffer?
    /// An upstream's refusal of the request, in this route's error shape; nil when it says nothing usable.
    func rejectionBody(status: Int, body: ByteBuffer, passedThrough: Bool, adapter: any ProviderAdapter) -> ByteBuffer?
    func streamWriter(for request: GatewayRequest, passedThrough: Bool) -> any ClientStreamWriter
    /// An error as this route writes it; nil leaves it to `OpenAIErrorMiddleware`.
    func errorResponse(_ error: GatewayError) -> Response?
}

/// `POST /v1/chat/completions`: OpenAI's chat, which every adapter reads and writes.
struct ChatCompletionsAPI: ClientAPI {
    var wireProtocol: WireProtocol { .openAIChat }

    func authorization(_ headers: HTTPFields) -> String? { headers[.authorization] }

    func summary(of body: Data) throws(GatewayError) -> ChatRequestSummary { try ChatRequestSummary.parse(body) }

    func wholeBody(_ whole: WholeAnswer, model: String, passedThrough: Bool) -> ByteBuffer? { whole.body }

    func rejectionBody(status: Int, body: ByteBuffer, passedThrough: Bool, adapter: any ProviderAdapter) -> ByteBuffer? {
        adapter.clientError(status: status, body: body)
    }

    func streamWriter(for request: GatewayRequest, passedThrough: Bool) -> any ClientStreamWriter {
        ChatChunkWriter(clientWantsUsage: request.summary.clientIncludeUsage)
    }

    func errorResponse(_ error: GatewayError) -> Response? { nil }
}

/// `POST /v1/messages`: Anthropic's Messages API, as Claude Code and the Anthropic SDKs speak
/// it. The key may come as `x-api-key`; Anthropic accounts get the body as it came, the others
/// in chat form, and their answers are written back as Anthropic's.
struct MessagesAPI: ClientAPI {
    var wireProtocol: WireProtocol { .anthropicMessages }

    func authorization(_ headers: HTTPFields) -> String? {
        headers[.authorization] ?? headers[.xAPIKey].map { "Bearer " + $0 }
    }

    func summary(of body: Data) throws(GatewayError) -> ChatRequestSummary { try ChatRequestSummary.parseMessages(body) }

    func wholeBody(_ whole: WholeAnswer, model: String, passedThrough: Bool) -> ByteBuffer? {
        if passedThrough { return whole.body }
        return MessagesFromChat.message(fromCompletion: Data(buffer: whole.body), model: model, usage: whole.usage).map { ByteBuffer(data: $0) }
    }

    func rejectionBody(status: Int, body: ByteBuffer, passedThrough: Bool, adapter: any ProviderAdapter) -> ByteBuffer? {
        if passedThrough { return body }
        guard let openAI = adapter.clientError(status: status, body: body) else { return nil }
        return MessagesErrors.fromOpenAI(Data(buffer: openAI), status: status).map { ByteBuffer(data: $0) }
    }

    func streamWriter(for request: GatewayRequest, passedThrough: Bool) -> any ClientStreamWriter {
        passedThrough ? MessagesPassThroughWriter() : MessagesStreamWriter(model: request.summary.model)
    }

    func errorResponse(_ error: GatewayError) -> Response? { anthropicError(error) }

    func anthropicError(_ error: GatewayError) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if !error.shouldRetry { headers[.shouldRetry] = "false" }
        if let retryAfter = error.retryAfterSeconds { headers[.retryAfter] = String(retryAfter) }
        return Response(status: .init(code: error.status), headers: headers, body: .init(byteBuffer: ByteBuffer(data: MessagesErrors.body(error))))
    }
}
