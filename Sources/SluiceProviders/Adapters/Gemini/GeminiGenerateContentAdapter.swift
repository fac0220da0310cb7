import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SluiceCore

/// Google's Gemini API (`POST {base}/models/{model}:generateContent`, and
/// `:streamGenerateContent?alt=sse` for streams), spoken by Google API keys and Google OAuth
/// accounts, behind the client's OpenAI chat format: `GeminiRequest` translates the request,
/// `GeminiAnswer` and `GeminiStream` the answer.
public struct GeminiGenerateContentAdapter: ProviderAdapter {
    public init() {}

    public var wireProtocol: WireProtocol { .geminiGenerateContent }

    public func upstreamRequest(for request: GatewayRequest, to target: UpstreamTarget) throws -> UpstreamRequest {
        if request.operation == .embeddings {
            let model = request.summary.model.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? request.summary.model
            let body = try GeminiEmbeddings.request(request.bytes, model: request.summary.model)
            return .jsonPost("models/\(model):batchEmbedContents", body: ByteBuffer(data: body), stream: nil, to: target)
        }
        let body = request.passesThrough(to: wireProtocol) ? request.body : ByteBuffer(data: try GeminiRequest.translate(request.bytes))
        let model = request.summary.model.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed) ?? request.summary.model
        let method = request.summary.stream ? "streamGenerateContent?alt=sse" : "generateContent"
        return .jsonPost("models/\(model):\(method)", body: body, stream: request.summary.stream, to: target)
    }

    /// A Gemini client's answer is the upstream's, as it came; only its usage is read.
    public func readWhole(_ body: ByteBuffer, for request: GatewayRequest) -> WholeAnswer? {
        if request.operation == .embeddings {
            // Gemini counts no tokens for embeddings: the input's estimate is charged.
            return GeminiEmbeddings.answer(Data(buffer: body), request: request.bytes, model: request.summary.model).map {
                WholeAnswer(body: ByteBuffer(data: $0.body), usage: $0.usage)
            }
        }
        guard request.passesThrough(to: wireProtocol) else { return readWhole(body) }
        var calls = 0
        guard let response = GeminiResponse(Data(buffer: body), nextCall: &calls), response.hasCandidates else { return nil }
        return WholeAnswer(body: body, usage: response.reading.usage)
    }

    public func readWhole(_ body: ByteBuffer) -> WholeAnswer? {
        guard let answer = GeminiAnswer.completion(from: Data(buffer: body), created: Int(Date().timeIntervalSince1970)) else { return nil }
        return WholeAnswer(body: ByteBuffer(data: answer.body), usage: answer.usage)
    }

    public func streamTranslator(for request: GatewayRequest) -> any StreamTranslator {
        if request.passesThrough(to: wireProtocol) { return GeminiPassThrough() }
        return GeminiStream(model: request.summary.model, created: Int(Date().timeIntervalSince1970))
    }

    public func assessFailure(status: Int, body: Data?, model: String) -> FailureAssessment {
        .response(status: status, body: body, model: model)
    }

    public func clientError(status: Int, body: ByteBuffer) -> ByteBuffer? {
        GeminiAnswer.openAIError(fromGoogle: Data(buffer: body)).map { ByteBuffer(data: $0) }
    }
}
