import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore

/// `POST /v1/messages/count_tokens`: about how many input tokens a Messages request has, as
/// clients such as Claude Code ask before they send one. Sluice answers itself, for any model
/// the key may use: no upstream call, no hold and no charge. The count is an estimate, about
/// four characters a token for text and Anthropic's rough 1,600 tokens for an image, since the
/// serving account (and so the tokenizer) is chosen only when the request is sent.
struct MessagesTokenCounter: Sendable {
    static let charactersPerToken = 4
    static let tokensPerImage = 1600
    /// What each message's role and framing costs.
    static let tokensPerMessage = 3

    let authenticator: KeyAuthenticator
    let pool: AccountPool
    let maxBodyBytes: Int

    func handle(_ request: Request, context: SluiceRequestContext) async -> Response {
        do { return try await count(request) } catch {
            return MessagesAPI().anthropicError(GatewayError.from(error, logger: context.logger))
        }
    }

    private func count(_ request: Request) async throws -> Response {
        let key = try await authenticator.authenticate(authorization: MessagesAPI().authorization(request))
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: maxBodyBytes) } catch is NIOTooManyBytesError {
            throw GatewayError.bodyTooLarge(limit: maxBodyBytes)
        }
        guard let body = (try? JSONSerialization.jsonObject(with: Data(buffer: buffer))) as? [String: Any] else {
            throw GatewayError.invalidRequest("The request body must be a JSON object.")
        }
        guard let model = body["model"] as? String, !model.isEmpty else { throw GatewayError.invalidRequest("model: Field required", param: "model") }
        guard let messages = body["messages"] as? [Any] else { throw GatewayError.invalidRequest("messages: Field required", param: "messages") }
        if let allowed = key.limits.allowedModels, !allowed.contains(model) { throw GatewayError.modelNotFound(model) }
        guard pool.modelLimits(model) != nil else { throw GatewayError.modelNotFound(model) }
        let count = Self.estimate(system: body["system"], messages: messages, tools: body["tools"])
        return Response(
            status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"input_tokens":\#(count)}"#)))
    }

    static func estimate(system: Any?, messages: [Any], tools: Any?) -> Int {
        var characters = 0
        var images = 0
        func read(_ value: Any?) {
            switch value {
            case let text as String: characters += text.count
            case let list as [Any]: list.forEach(read)
            case let object as [String: Any]:
                if object["type"] as? String == "image" { images += 1; return }
                for (key, field) in object where !["type", "id", "tool_use_id", "role", "signature", "cache_control"].contains(key) { read(field) }
            default: return
            }
        }
        read(system)
        read(messages)
        // Tool definitions are read as the model sees them: their JSON.
        if let tools, let data = try? JSONSerialization.data(withJSONObject: tools) { characters += data.count }
        let textTokens = (characters + charactersPerToken - 1) / charactersPerToken
        return max(1, textTokens + images * tokensPerImage + messages.count * tokensPerMessage)
    }
}
