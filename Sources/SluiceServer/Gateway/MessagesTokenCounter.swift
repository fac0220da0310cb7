import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore
import SluiceProviders

/// `POST /v1/messages/count_tokens`: how many input tokens a Messages request has, as clients
/// such as Claude Code ask before they send one, for any model the key may use, with no hold and
/// no charge. When the account the pool picks for the model speaks Messages, it counts, and its
/// answer (or its refusal of the request) goes back as it came. Otherwise, or when that account
/// cannot count, Sluice
/// estimates: about four characters a token for text and Anthropic's rough 1,600 tokens for an
/// image.
struct MessagesTokenCounter: Sendable {
    static let charactersPerToken = 4
    static let tokensPerImage = 1600
    /// What each message's role and framing costs.
    static let tokensPerMessage = 3

    let authenticator: KeyAuthenticator
    let pool: AccountPool
    let dispatcher: UpstreamDispatcher
    let maxBodyBytes: Int

    func handle(_ request: Request, context: SluiceRequestContext) async -> Response {
        do { return try await count(request, trace: context.observation.trace) } catch {
            return MessagesAPI().anthropicError(GatewayError.from(error, logger: context.logger))
        }
    }

    private func count(_ request: Request, trace: RequestTrace?) async throws -> Response {
        let key = try await authenticator.authenticate(authorization: MessagesAPI().authorization(request))
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: maxBodyBytes) } catch is NIOTooManyBytesError {
            throw GatewayError.bodyTooLarge(limit: maxBodyBytes)
        }
        let bytes = Data(buffer: buffer)
        let summary = try ChatRequestSummary.parseMessages(bytes, counting: true)
        if let allowed = key.limits.allowedModels, !allowed.contains(summary.model) { throw GatewayError.modelNotFound(summary.model) }
        guard pool.modelLimits(summary.model) != nil else { throw GatewayError.modelNotFound(summary.model) }

        var counting = GatewayRequest(
            body: buffer, bytes: bytes, summary: summary, clientProtocol: .anthropicMessages,
            anthropicBeta: request.headers[.anthropicBeta], anthropicVersion: request.headers[.anthropicVersion])
        counting.operation = .countTokens
        // Any failure to count upstream (another protocol's account, none answering) is answered
        // with the estimate: a count is advice, not a charge.
        switch try? await dispatcher.dispatch(counting, for: AccountPool.Requester(userID: key.userID, memberUserID: key.teamMember?.userID, preference: key.poolPreference), trace: trace) {
        case .whole(_, let whole)?:
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: whole.body))
        case .rejected(_, let status, let body?)? where status == 400 || status == 413:
            // The request's own fault, in Anthropic's words; any other refusal is the account's.
            return Response(status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
        default:
            break
        }
        guard let body = (try? JSONSerialization.jsonObject(with: bytes)) as? [String: Any] else {
            throw GatewayError.invalidRequest("The request body must be a JSON object.")
        }
        let count = Self.estimate(system: body["system"], messages: body["messages"] as? [Any] ?? [], tools: body["tools"])
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
