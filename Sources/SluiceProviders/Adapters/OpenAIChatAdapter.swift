import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SluiceCore

/// OpenAI's chat completions protocol, spoken by OpenAI and every compatible provider.
///
/// The client speaks it too, so the request goes upstream byte for byte, with one exception: a
/// streaming request that does not ask for usage is edited to ask (DESIGN.md, step 5). Answers
/// come back as they are; these methods only look at them.
public struct OpenAIChatAdapter: ProviderAdapter {
    public init() {}

    public var wireProtocol: WireProtocol { .openAIChat }

    public func upstreamRequest(for request: GatewayRequest, to target: UpstreamTarget) -> UpstreamRequest {
        if request.operation == .embeddings {
            return .jsonPost("embeddings", body: request.body, stream: nil, to: target)
        }
        var body = request.body
        if request.summary.stream, let edited = ChatRequestRewrite.forcingIncludeUsage(request.bytes, summary: request.summary) {
            body = ByteBuffer(data: edited)
        }
        return .jsonPost("chat/completions", body: body, stream: request.summary.stream, to: target)
    }

    /// An embeddings answer passes as it came; its usage is its `prompt_tokens`.
    public func readWhole(_ body: ByteBuffer, for request: GatewayRequest) -> WholeAnswer? {
        guard request.operation == .embeddings else { return readWhole(body) }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any], object["data"] is [Any] else {
            return nil
        }
        let usage = (object["usage"] as? [String: Any])?["prompt_tokens"] as? Int
        return WholeAnswer(body: body, usage: usage.map { TokenUsage(promptTokens: $0, completionTokens: 0) })
    }

    public func readWhole(_ body: ByteBuffer) -> WholeAnswer? {
        guard case .valid(let usage) = ResponseInspection.completion(Data(buffer: body)) else { return nil }
        return WholeAnswer(body: body, usage: usage)
    }

    public func streamTranslator(for request: GatewayRequest) -> any StreamTranslator { PassThrough() }

    /// Chunks go to the client as they came; only their meaning is read.
    struct PassThrough: StreamTranslator {
        func translate(_ event: ServerSentEvent, needOutputCheck: Bool, emit: (RelayedEvent) -> Void) {
            emit(RelayedEvent(ResponseInspection.classify(event.data, needOutputCheck: needOutputCheck), event))
        }
    }

    public func assessFailure(status: Int, body: Data?, model: String) -> FailureAssessment {
        .response(status: status, body: body, model: model)
    }
}
