import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore
import SluiceProviders
import SluiceStore

/// `POST /v1/chat/completions`: the hot path of DESIGN.md, steps 1 to 8, one named step each.
struct ChatCompletionsHandler: Sendable {
    let authenticator: KeyAuthenticator
    let admission: Admission
    let holds: RequestHolds
    let dispatcher: UpstreamDispatcher
    let maxBodyBytes: Int

    func handle(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        let key = try await authenticator.authenticate(authorization: request.headers[.authorization])
        let chat = try await read(request)
        let admitted = try await admission.admit(chat.summary, key: key, from: context.remoteAddress)
        let charge = try await holds.hold(chat, key: key, model: admitted.model, requestID: context.requestID)
        let requester = AccountPool.Requester(
            userID: key.userID, preference: key.poolPreference, session: chat.summary.sessionKey(header: request.headers[.sessionID]),
            closedSharedGroups: admitted.closedSharedGroups)
        let answer: CommittedAnswer
        do { answer = try await dispatcher.dispatch(chat, for: requester) } catch {
            await charge.settle(RequestOutcome(endReason: .noAccount, status: (error as? GatewayError)?.status ?? 502))
            throw error
        }
        charge.attach(answer.attempt.lease)
        return try await respond(with: answer, charge: charge, clientWantsUsage: chat.summary.clientIncludeUsage)
    }

    /// The body, within the configured limit, and what the gateway reads from it.
    private func read(_ request: Request) async throws -> GatewayRequest {
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: maxBodyBytes) } catch is NIOTooManyBytesError {
            throw GatewayError.bodyTooLarge(limit: maxBodyBytes)
        }
        let bytes = Data(buffer: buffer)
        return GatewayRequest(
            body: buffer, bytes: bytes, summary: try ChatRequestSummary.parse(bytes), anthropicBeta: request.headers[.anthropicBeta])
    }

    /// Steps 7 and 8: a whole answer settles now; a stream is relayed and settles when it ends.
    private func respond(with answer: CommittedAnswer, charge: RequestCharge, clientWantsUsage: Bool) async throws -> Response {
        let account = answer.attempt.account
        // The serving model's price: for an alias, the target that answered.
        let price = account.manifest.model(answer.attempt.model)?.price
        switch answer {
        case .rejected(let attempt, let status, let body):
            return try await passThroughRejection(status: status, body: body, attempt: attempt, charge: charge)
        case .whole(_, let whole):
            await charge.settle(RequestOutcome(
                endReason: .completed, status: 200, provider: account.manifest.id, accountID: account.record.id,
                servedModel: answer.attempt.model, price: price, usage: whole.usage, completionEstimate: whole.body.readableBytes / 4, producedOutput: true))
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: whole.body))
        case .stream(let attempt, let upstream):
            let relay = StreamRelay(charge: charge, attempt: attempt, price: price, clientWantsUsage: clientWantsUsage, upstream: upstream)
            let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache", .accelBuffering: "no"]
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in await relay.run(&writer) })
        }
    }

    private func passThroughRejection(status: Int, body: ByteBuffer?, attempt: UpstreamAttempt, charge: RequestCharge) async throws -> Response {
        let account = attempt.account
        await charge.settle(RequestOutcome(
            endReason: .upstreamRejected, status: status, provider: account.manifest.id, accountID: account.record.id, servedModel: attempt.model))
        // The provider's own error, in OpenAI's shape; when it says nothing usable, say it plainly.
        if let body, let error = attempt.adapter.clientError(status: status, body: body) {
            return Response(
                status: .init(code: status), headers: [.contentType: "application/json", .shouldRetry: "false"], body: .init(byteBuffer: error))
        }
        throw GatewayError(
            status: status, type: "invalid_request_error", code: "upstream_rejected",
            message: "The upstream rejected the request with status \(status).", shouldRetry: false)
    }
}
