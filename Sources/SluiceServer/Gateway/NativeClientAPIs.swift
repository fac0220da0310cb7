import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore
import SluiceProviders

/// `POST /v1/messages`: Anthropic's Messages API, as Claude Code and the Anthropic SDKs speak
/// it. The key may come as `x-api-key`; Anthropic accounts get the body as it came, the others
/// in chat form, and their answers are written back as Anthropic's.
struct MessagesAPI: ClientAPI {
    var wireProtocol: WireProtocol { .anthropicMessages }

    func authorization(_ request: Request) -> String? {
        request.headers[.authorization] ?? request.headers[.xAPIKey].map { "Bearer " + $0 }
    }

    func summary(of body: Data, request: Request) throws(GatewayError) -> ChatRequestSummary { try ChatRequestSummary.parseMessages(body) }

    func wholeBody(_ whole: WholeAnswer, for request: GatewayRequest, model: String, passedThrough: Bool) -> ByteBuffer? {
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

    func anthropicError(_ error: GatewayError) -> Response { error.response(body: MessagesErrors.body(error)) }
}

/// `POST /v1beta/models/{model}:generateContent` and `:streamGenerateContent?alt=sse`: Google's
/// Gemini API, as the `google-genai` SDKs and Gemini CLI speak it. The key may come as
/// `x-goog-api-key`, `?key=` or a bearer token; the model and streaming are in the URL.
struct GeminiAPI: ClientAPI {
    var wireProtocol: WireProtocol { .geminiGenerateContent }

    /// `gemini-2.5-pro:streamGenerateContent`: the model, and whether the client wants a stream.
    static func action(_ path: String) -> (model: String, stream: Bool)? {
        // Decoded first: a client may send the colon as `%3A`, which means the same path.
        guard let segment = path.split(separator: "/").last else { return nil }
        let last = segment.removingPercentEncoding ?? String(segment)
        guard let colon = last.lastIndex(of: ":") else { return nil }
        let model = String(last[..<colon])
        switch last[last.index(after: colon)...] {
        case "generateContent": return model.isEmpty ? nil : (model, false)
        case "streamGenerateContent": return model.isEmpty ? nil : (model, true)
        default: return nil
        }
    }

    func authorization(_ request: Request) -> String? {
        if let header = request.headers[.authorization] { return header }
        if let key = request.headers[.xGoogAPIKey] ?? request.uri.queryParameters.get("key") { return "Bearer " + key }
        return nil
    }

    func summary(of body: Data, request: Request) throws(GatewayError) -> ChatRequestSummary {
        guard let (model, stream) = Self.action(request.uri.path) else {
            throw GatewayError.notFound("Unknown method. Use models/{model}:generateContent or :streamGenerateContent.")
        }
        return try ChatRequestSummary.parseGemini(body, model: model, stream: stream)
    }

    func wholeBody(_ whole: WholeAnswer, for request: GatewayRequest, model: String, passedThrough: Bool) -> ByteBuffer? {
        if passedThrough { return whole.body }
        return GeminiFromChat.response(fromCompletion: Data(buffer: whole.body), model: model, usage: whole.usage).map { ByteBuffer(data: $0) }
    }

    func rejectionBody(status: Int, body: ByteBuffer, passedThrough: Bool, adapter: any ProviderAdapter) -> ByteBuffer? {
        if passedThrough { return body }
        guard let openAI = adapter.clientError(status: status, body: body) else { return nil }
        return GeminiErrors.fromOpenAI(Data(buffer: openAI), status: status).map { ByteBuffer(data: $0) }
    }

    func streamWriter(for request: GatewayRequest, passedThrough: Bool) -> any ClientStreamWriter {
        passedThrough ? GeminiPassThroughWriter() : GeminiStreamWriter(model: request.summary.model)
    }

    func errorResponse(_ error: GatewayError) -> Response? { googleError(error) }

    func googleError(_ error: GatewayError) -> Response { error.response(body: GeminiErrors.body(error)) }
}
