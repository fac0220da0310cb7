import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SluiceCore

/// OpenAI's Responses API (`POST {base}/responses`), for accounts that speak it: OpenAI itself,
/// and the Codex-style accounts that speak nothing else. A Responses client's body goes up as it
/// came (a continued conversation spliced in first) and its answer comes back as it came; any
/// other client's, in chat form, is translated on the way up (`ChatToResponses`) and back
/// (`ResponsesAnswer`, `ResponsesStream`).
public struct OpenAIResponsesAdapter: ProviderAdapter {
    public init() {}

    public var wireProtocol: WireProtocol { .openAIResponses }

    public func upstreamRequest(for request: GatewayRequest, to target: UpstreamTarget) throws -> UpstreamRequest {
        guard request.operation == .chat else {
            throw GatewayError.invalidRequest("This model's provider serves answers, not embeddings.", param: "model")
        }
        let body = request.passesThrough(to: wireProtocol)
            ? request.body : ByteBuffer(data: try ChatToResponses.translate(request.bytes, stream: request.summary.stream))
        return .jsonPost("responses", body: body, stream: request.summary.stream, to: target)
    }

    /// A Responses client's answer is the upstream's, as it came; only its usage is read.
    public func readWhole(_ body: ByteBuffer, for request: GatewayRequest) -> WholeAnswer? {
        guard request.passesThrough(to: wireProtocol) else { return readWhole(body) }
        guard let response = ResponsesAnswer.response(Data(buffer: body)) else { return nil }
        return WholeAnswer(body: body, usage: ResponsesAnswer.usage(response["usage"] as? [String: Any]))
    }

    public func readWhole(_ body: ByteBuffer) -> WholeAnswer? {
        guard let response = ResponsesAnswer.response(Data(buffer: body)) else { return nil }
        let usage = ResponsesAnswer.usage(response["usage"] as? [String: Any])
        guard let completion = ResponsesAnswer.completion(response, usage: usage) else { return nil }
        return WholeAnswer(body: ByteBuffer(data: completion), usage: usage)
    }

    public func streamTranslator(for request: GatewayRequest) -> any StreamTranslator {
        if request.passesThrough(to: wireProtocol) { return ResponsesPassThrough() }
        return ResponsesStream(model: request.summary.model, created: Int(Date().timeIntervalSince1970))
    }

    public func assessFailure(status: Int, body: Data?, model: String) -> FailureAssessment {
        .response(status: status, body: body, model: model)
    }
}
