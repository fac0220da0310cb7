import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore
import SluiceProviders
import SluiceStore

/// The hot path of DESIGN.md, steps 1 to 8, one named step each, for every client protocol:
/// `POST /v1/chat/completions` and `POST /v1/messages` differ only in their `ClientAPI`.
struct GatewayHandler<API: ClientAPI>: Sendable {
    let api: API
    let authenticator: KeyAuthenticator
    let admission: Admission
    let holds: RequestHolds
    let dispatcher: UpstreamDispatcher
    let maxBodyBytes: Int
    let streamLimits: StreamLimits
    /// Records the exchanges of keys flagged `record_conversations`, for APIs that record them.
    let recorder: ConversationRecorder?

    func handle(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        do { return try await serve(request, context: context) } catch {
            guard let response = api.errorResponse(GatewayError.from(error, logger: context.logger)) else { throw error }
            return response
        }
    }

    private func serve(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        let key = try await authenticator.authenticate(authorization: api.authorization(request))
        context.observation.identify(key)
        let gatewayRequest = try await read(request, key: key)
        let admitted = try await admission.admit(gatewayRequest.summary, key: key, from: context.remoteAddress)
        let charge = try await holds.hold(
            gatewayRequest, key: key, model: admitted.model, requestID: context.requestID, observation: context.observation)
        let requester = AccountPool.Requester(
            userID: key.userID, memberUserID: key.teamMember?.userID, preference: key.poolPreference,
            session: gatewayRequest.summary.sessionKey(header: request.headers[.sessionID]), closedSharedGroups: admitted.closedSharedGroups)
        let answer: CommittedAnswer
        do { answer = try await dispatcher.dispatch(gatewayRequest, for: requester, trace: context.observation.trace) } catch {
            await charge.settle(RequestOutcome(endReason: .noAccount, status: (error as? GatewayError)?.status ?? 502))
            throw error
        }
        charge.attach(answer.attempt.lease)
        let recording = recording(of: request, key: key, requestID: context.requestID, gatewayRequest)
        return try await respond(with: answer, to: gatewayRequest, key: key, charge: charge, recording: recording)
    }

    /// The chat session this request's exchange is recorded in: the one its `x-session-id`
    /// names, when the key is flagged and the API records. Whether the key's user has that
    /// session is for the recorder to find out, off the request path.
    private func recording(of request: Request, key: APIKeyRecord, requestID: String, _ gatewayRequest: GatewayRequest) -> Recording? {
        guard let recorder, key.limits.recordConversations, api.recordsConversations,
            let header = request.headers[.sessionID], let sessionID = Int64(header), sessionID > 0
        else { return nil }
        return Recording(recorder: recorder, sessionID: sessionID, key: key, requestID: requestID, request: gatewayRequest.withoutBodyBuffer)
    }

    /// The body, within the configured limit, and what the gateway reads from it.
    private func read(_ request: Request, key: APIKeyRecord) async throws -> GatewayRequest {
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: maxBodyBytes) } catch is NIOTooManyBytesError {
            throw GatewayError.bodyTooLarge(limit: maxBodyBytes)
        }
        let bytes = Data(buffer: buffer)
        let summary = try api.summary(of: bytes, request: request)
        let continuation = try await api.continuation(of: bytes, key: key)
        var gatewayRequest = GatewayRequest(
            body: buffer, bytes: bytes, summary: summary, clientProtocol: api.wireProtocol,
            anthropicBeta: request.headers[.anthropicBeta], anthropicVersion: request.headers[.anthropicVersion])
        gatewayRequest.operation = api.operation
        gatewayRequest.clientAPI = api.logName
        gatewayRequest.responseID = continuation.responseID
        gatewayRequest.continued = continuation.continued
        return gatewayRequest
    }

    /// Steps 7 and 8: a whole answer settles now; a stream is relayed and settles when it ends.
    private func respond(
        with answer: CommittedAnswer, to request: GatewayRequest, key: APIKeyRecord, charge: RequestCharge, recording: Recording?
    ) async throws -> Response {
        let attempt = answer.attempt
        let account = attempt.account
        // The serving model's price: for an alias, the target that answered.
        let price = account.manifest.model(attempt.model)?.price
        let passedThrough = request.passesThrough(to: attempt.adapter.wireProtocol)
        var outcome = RequestOutcome(
            endReason: .completed, status: 200, provider: account.manifest.id, accountID: account.record.id, servedModel: attempt.model,
            upstreamProtocol: attempt.adapter.wireProtocol, price: price)
        switch answer {
        case .rejected(_, let status, let body):
            outcome.endReason = .upstreamRejected
            outcome.status = status
            outcome.price = nil
            await charge.settle(outcome)
            // The provider's own error, in the route's shape; when it says nothing usable, say it plainly.
            if let body, let error = api.rejectionBody(status: status, body: body, passedThrough: passedThrough, adapter: attempt.adapter) {
                return Response(
                    status: .init(code: status), headers: [.contentType: "application/json", .shouldRetry: "false"], body: .init(byteBuffer: error))
            }
            throw GatewayError(
                status: status, type: "invalid_request_error", code: "upstream_rejected",
                message: "The upstream rejected the request with status \(status).", shouldRetry: false)
        case .whole(_, let whole):
            guard let body = api.wholeBody(whole, for: request, model: attempt.model, passedThrough: passedThrough) else {
                await charge.settle(RequestOutcome(endReason: .upstreamError, status: 502, provider: account.manifest.id, accountID: account.record.id))
                throw GatewayError.upstreamFailed("The upstream's answer could not be written in this API's format.")
            }
            outcome.usage = whole.usage
            outcome.completionEstimate = whole.body.readableBytes / 4
            outcome.producedOutput = true
            let settled = await charge.settle(outcome)
            await api.keep(.whole(body), of: request, key: key)
            if let recording, let settled { recording.record(.completion(body), servedModel: attempt.model, settled: settled) }
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
        case .stream(_, let upstream):
            let api = api
            let writer = api.streamWriter(for: request, passedThrough: passedThrough)
            // The stream keeps the request only when the answer is kept, and never its body's
            // buffer: with a long conversation, the two copies of the body were most of what an
            // open stream held (docs/benchmarks.md).
            let completed: (@Sendable (any ClientStreamWriter) async -> Void)? =
                api.keeps(request)
                ? { @Sendable [kept = request.withoutBodyBuffer] writer in await api.keep(.stream(writer), of: kept, key: key) } : nil
            let relay = StreamRelay(
                charge: charge, attempt: attempt, outcome: outcome, upstream: upstream,
                writer: recording == nil ? writer : TranscriptWriter(wrapping: writer), completed: completed, limits: streamLimits)
            let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache", .accelBuffering: "no"]
            return Response(status: .ok, headers: headers, body: ResponseBody { bodyWriter in
                let ending = await relay.run(&bodyWriter)
                // Only an answer that ended well is recorded: a broken one would read as complete.
                if let recording, ending.completed, let settled = ending.settled, let transcript = ending.writer as? TranscriptWriter {
                    recording.record(.streamed(transcript.text), servedModel: attempt.model, settled: settled)
                }
            })
        }
    }
}

/// What a recorded request hands the recorder when its answer is settled.
private struct Recording: Sendable {
    let recorder: ConversationRecorder
    let sessionID: Int64
    let key: APIKeyRecord
    let requestID: String
    let request: GatewayRequest

    func record(_ answer: ConversationRecorder.Answer, servedModel: String, settled: SettledCharge) {
        recorder.record(
            .init(
                sessionID: sessionID, userID: key.userID, requestID: requestID, model: request.summary.model, servedModel: servedModel,
                request: request.bytes, answer: answer, usage: settled.usage, cost: settled.cost, at: Date()))
    }
}

extension GatewayRequest {
    /// The request without `body`, the buffer it was read into, for what outlives the upstream
    /// call: `bytes` has the same body.
    fileprivate var withoutBodyBuffer: GatewayRequest {
        var request = self
        request.body = ByteBuffer()
        return request
    }
}
