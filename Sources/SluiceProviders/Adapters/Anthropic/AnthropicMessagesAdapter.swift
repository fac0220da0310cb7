import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import SluiceCore

/// Anthropic's Messages API (`POST {base}/v1/messages`), spoken by Anthropic API keys and Claude
/// OAuth accounts, behind the client's OpenAI chat format: the request is translated on the way
/// up (`AnthropicRequest`), the answer on the way back (`AnthropicAnswer`, `AnthropicStream`).
public struct AnthropicMessagesAdapter: ProviderAdapter {
    /// The API version every request names; the translation is written against it.
    static let apiVersion = "2023-06-01"
    /// What Anthropic asks OAuth (Claude subscription) tokens to announce.
    static let oauthBeta = "oauth-2025-04-20"

    let manifest: ProviderManifest

    public init(manifest: ProviderManifest) { self.manifest = manifest }

    public var wireProtocol: WireProtocol { .anthropicMessages }

    public func upstreamRequest(for request: GatewayRequest, to target: UpstreamTarget) throws -> UpstreamRequest {
        let model = manifest.model(request.summary.model)
        let body = try AnthropicRequest.translate(
            request.bytes, model: request.summary.model, defaultMaxTokens: model?.maxOutputTokens ?? 4096, stream: request.summary.stream)
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "accept", value: request.summary.stream ? "text/event-stream" : "application/json")
        headers.add(name: "anthropic-version", value: Self.apiVersion)
        var betas = request.anthropicBeta.map { [$0] } ?? []
        if case .oauth = target.credential { betas.append(Self.oauthBeta) }
        if !betas.isEmpty { headers.add(name: "anthropic-beta", value: betas.joined(separator: ",")) }
        target.authorize(&headers)
        return UpstreamRequest(method: .POST, url: target.url("v1/messages"), headers: headers, body: ByteBuffer(data: body))
    }

    public func readWhole(_ body: ByteBuffer) -> WholeAnswer? {
        guard let answer = AnthropicAnswer.completion(fromMessage: Data(buffer: body), created: Int(Date().timeIntervalSince1970)) else {
            return nil
        }
        return WholeAnswer(body: ByteBuffer(data: answer.body), usage: answer.usage)
    }

    public func streamTranslator(for request: GatewayRequest) -> any StreamTranslator {
        AnthropicStream(model: request.summary.model, created: Int(Date().timeIntervalSince1970))
    }

    /// Anthropic's status codes mean what OpenAI's do, but for 529: overloaded, which is the
    /// provider's state and not the account's, so the account cools briefly like on a 503.
    public func assessFailure(status: Int, body: Data?, model: String) -> FailureAssessment {
        .response(status: status == 529 ? 503 : status, body: body, model: model)
    }

    public func clientError(status: Int, body: ByteBuffer) -> ByteBuffer? {
        AnthropicAnswer.openAIError(fromAnthropic: Data(buffer: body)).map { ByteBuffer(data: $0) }
    }
}
