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
        guard request.operation != .embeddings else { throw GatewayError.invalidRequest("Anthropic has no embeddings API.", param: "model") }
        let passThrough = request.passesThrough(to: wireProtocol)
        let body: ByteBuffer
        if passThrough {
            body = request.body
        } else {
            let model = manifest.model(request.summary.model)
            body = ByteBuffer(data: try AnthropicRequest.translate(
                request.bytes, model: request.summary.model, defaultMaxTokens: model?.maxOutputTokens ?? 4096, stream: request.summary.stream))
        }
        // A body passed through is in the client's API version; a translated one in ours.
        var headers = [("anthropic-version", passThrough ? request.anthropicVersion ?? Self.apiVersion : Self.apiVersion)]
        var betas = request.anthropicBeta.map { [$0] } ?? []
        if case .oauth = target.credential { betas.append(Self.oauthBeta) }
        if !betas.isEmpty { headers.append(("anthropic-beta", betas.joined(separator: ","))) }
        let path = request.operation == .countTokens ? "v1/messages/count_tokens" : "v1/messages"
        return .jsonPost(path, body: body, stream: request.summary.stream, to: target, extra: headers)
    }

    /// A Messages client's answer (or token count) is the upstream's, as it came; only its usage is read.
    public func readWhole(_ body: ByteBuffer, for request: GatewayRequest) -> WholeAnswer? {
        guard request.passesThrough(to: wireProtocol) else { return readWhole(body) }
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any]
        if request.operation == .countTokens { return object?["input_tokens"] is Int ? WholeAnswer(body: body, usage: nil) : nil }
        guard let message = object, message["type"] as? String == "message" else { return nil }
        return WholeAnswer(body: body, usage: AnthropicAnswer.usage(message["usage"] as? [String: Any]))
    }

    public func readWhole(_ body: ByteBuffer) -> WholeAnswer? {
        guard let answer = AnthropicAnswer.completion(fromMessage: Data(buffer: body), created: Int(Date().timeIntervalSince1970)) else {
            return nil
        }
        return WholeAnswer(body: ByteBuffer(data: answer.body), usage: answer.usage)
    }

    public func streamTranslator(for request: GatewayRequest) -> any StreamTranslator {
        if request.passesThrough(to: wireProtocol) { return AnthropicPassThrough() }
        return AnthropicStream(model: request.summary.model, created: Int(Date().timeIntervalSince1970))
    }

    /// Anthropic's status codes mean what OpenAI's do, but for two. 529 is overloaded, the
    /// provider's state and not the account's, so the model cools briefly as on a 503. And an
    /// account out of credit answers 400 ("Your credit balance is too low"): that is the
    /// account's state, so it leaves rotation instead of the client being refused.
    public func assessFailure(status: Int, body: Data?, model: String) -> FailureAssessment {
        if Self.namesNoCredit(status: status, body: body) { return FailureAssessment(.quotaExhausted, .account) }
        return .response(status: status == 529 ? 503 : status, body: body, model: model)
    }

    public func isRequestRejection(status: Int, body: Data?) -> Bool {
        Self.isRejectionStatus(status) && !Self.namesNoCredit(status: status, body: body)
    }

    static func namesNoCredit(status: Int, body: Data?) -> Bool {
        guard status == 400, let body, let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any],
              let message = (object["error"] as? [String: Any])?["message"] as? String
        else { return false }
        return message.lowercased().contains("credit balance")
    }

    public func clientError(status: Int, body: ByteBuffer) -> ByteBuffer? {
        AnthropicAnswer.openAIError(fromAnthropic: Data(buffer: body)).map { ByteBuffer(data: $0) }
    }
}
