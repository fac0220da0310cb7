import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SluiceCore
import SluiceProviders
import SluiceStore

/// `POST /v1/chat/completions`: the hot path of DESIGN.md, steps 1 to 8.
struct ChatCompletionsHandler: Sendable {
    let authenticator: KeyAuthenticator
    let pool: AccountPool
    let credits: any CreditHolds
    /// Spending allowances of keys that have a spending limit, held like balances.
    let keyBudgets: any CreditHolds
    let rateLimiter: any KeyRateLimiting
    let allowance: SharedPoolAllowance
    let settlements: SettlementWriter
    let client: OpenAICompatibleClient
    let pricing: Pricing
    let limits: SluiceConfig.Upstream
    let waits: SluiceConfig.Accounts
    let maxBodyBytes: Int

    func handle(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        // 1. Authenticate (cached; a store read only on a cache miss).
        let key = try await authenticator.authenticate(authorization: request.headers[.authorization])

        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: maxBodyBytes) } catch is NIOTooManyBytesError {
            throw GatewayError.bodyTooLarge(limit: maxBodyBytes)
        }
        let body = Data(buffer: buffer)
        let summary = try ChatRequestSummary.parse(body)

        // 2. Admit.
        if let allowlist = key.limits.ipAllowlist {
            guard let address = context.remoteAddress, allowlist.contains(where: { $0.contains(address) }) else { throw GatewayError.addressNotAllowed }
        }
        if let allowed = key.limits.allowedModels, !allowed.contains(summary.model) { throw GatewayError.modelNotFound(summary.model) }
        guard let model = pool.modelLimits(summary.model) else { throw GatewayError.modelNotFound(summary.model) }
        guard !settlements.isBackedUp else { throw GatewayError.overloaded("The gateway is catching up on billing. Retry shortly.") }
        let now = Date().timeIntervalSince1970
        let admission: RateDecision
        do {
            admission = try await rateLimiter.admit(keyID: key.id, rpm: key.limits.requestsPerMinute, tpm: key.limits.tokensPerMinute, now: now)
        } catch {
            throw GatewayError.dependencyUnavailable("The gateway cannot reach its rate limits right now.")
        }
        if case .limited(let limit, let retryAfter) = admission {
            throw GatewayError.rateLimited("This API key's \(limit)-per-minute limit is reached.", retryAfterSeconds: retryAfter)
        }
        let sharedPoolClosedFor: Int?
        do { sharedPoolClosedFor = try await allowance.closedFor(key, model: summary.model) } catch {
            throw GatewayError.dependencyUnavailable("The gateway cannot reach its shared-pool allowances right now.")
        }

        // 3. Hold the worst case.
        let promptEstimate = TokenEstimate.promptTokens(bodyBytes: body.count)
        let maxOutput = min(summary.maxOutputTokens ?? model.maxOutputTokens, model.maxOutputTokens)
        let worstCase = pricing.worstCase(promptTokens: promptEstimate, maxOutputTokens: maxOutput, at: model.price)
        // A key with a spending limit holds its allowance first, like a balance, so concurrent
        // requests cannot pass it either. Every refusal below gives that hold back.
        let keyBudget = key.limits.spendLimit == nil ? nil : keyBudgets
        if let keyBudget, let limit = key.limits.spendLimit {
            guard (try? await keyBudget.hold(userID: key.id, amount: worstCase, requestID: context.requestID)) == .held else {
                throw GatewayError.keySpendLimitReached(limit: limit)
            }
        }
        let outcome: HoldOutcome
        do {
            outcome = try await credits.hold(userID: key.userID, amount: worstCase, requestID: context.requestID)
        } catch {
            _ = try? await keyBudget?.settle(requestID: context.requestID, cost: .zero)
            if error is CreditBook.UnknownUser { throw GatewayError.invalidAPIKey }
            throw GatewayError.dependencyUnavailable("The gateway cannot reach its credit store right now.")
        }
        if case .insufficient(let available) = outcome {
            _ = try? await keyBudget?.settle(requestID: context.requestID, cost: .zero)
            throw GatewayError.insufficientQuota(needed: worstCase, available: available)
        }
        let charge = RequestCharge(
            requestID: context.requestID, key: key, model: summary.model, stream: summary.stream,
            promptEstimate: promptEstimate, settler: settlements.settler,
            keyBudgeted: keyBudget != nil, allowance: allowance, pricing: pricing, writer: settlements)

        // 4–6. Select, forward, fail over before the first byte.
        // The client's bytes go upstream as they came, unless a stream must be told to report usage.
        var upstreamBody = buffer
        if summary.stream, let edited = ChatRequestRewrite.forcingIncludeUsage(body, summary: summary) {
            upstreamBody = ByteBuffer(data: edited)
        }
        let requester = AccountPool.Requester(
            userID: key.userID, preference: key.poolPreference, session: summary.sessionKey(header: request.headers[.sessionID]),
            sharedPoolClosedFor: sharedPoolClosedFor)
        let forwarded: Forwarded
        do {
            forwarded = try await forward(upstreamBody, summary: summary, requester: requester)
        } catch {
            await charge.settle(RequestOutcome(endReason: .noAccount, status: (error as? GatewayError)?.status ?? 502))
            throw error
        }

        // 7–8. Relay and settle.
        switch forwarded {
        case .rejected(let lease, let response):
            charge.attach(lease)
            return try await passThroughRejection(response, account: lease.account, charge: charge)
        case .completion(let lease, let body, let usage):
            charge.attach(lease)
            let account = lease.account
            await charge.settle(RequestOutcome(
                endReason: .completed, status: 200, provider: account.manifest.id, accountID: account.record.id,
                price: account.manifest.model(charge.model)?.price, usage: usage,
                completionEstimate: body.readableBytes / 4, producedOutput: true))
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: body))
        case .stream(let lease, let upstream):
            charge.attach(lease)
            let account = lease.account
            let relay = StreamRelay(
                charge: charge, account: account, price: account.manifest.model(summary.model)?.price,
                clientWantsUsage: summary.clientIncludeUsage, upstream: upstream, pool: pool)
            let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache", .accelBuffering: "no"]
            return Response(status: .ok, headers: headers, body: ResponseBody { writer in await relay.run(&writer) })
        }
    }

    enum Forwarded {
        /// A whole, valid `chat.completion` body and the usage it reports.
        case completion(AccountLease, ByteBuffer, TokenUsage?)
        case stream(AccountLease, PeekedStream)
        /// The upstream refused the request itself (a 400-class error that another account would
        /// refuse too): the client sees the upstream's answer.
        case rejected(AccountLease, UpstreamResponse)
    }

    /// Tries accounts in selection order until one answers, at most `maxAttempts`, never one twice.
    /// Before the first attempt it may wait: for a cooldown that ends within
    /// `waitForCooldownMillis`, or for a slot on a busy account up to `queueTimeoutMillis`.
    private func forward(
        _ body: ByteBuffer, summary: ChatRequestSummary, requester: AccountPool.Requester
    ) async throws -> Forwarded {
        var tried: Set<Int64> = []
        var lastFailure: FailureClass?
        let queueDeadline = ContinuousClock.now + .milliseconds(waits.queueTimeoutMillis)
        var waitedForCooldown = false
        while tried.count < limits.maxAttempts {
            let lease: AccountLease
            switch pool.next(model: summary.model, for: requester, excluding: tried) {
            case .account(let next): lease = next
            case .busy(let accounts):
                let remaining = queueDeadline - .now
                if remaining > .zero, await pool.waitForCapacity(on: accounts, timeout: remaining) { continue }
                throw GatewayError.accountsBusy(retryAfterSeconds: 1)
            case .cooling(let until):
                let wait = until.timeIntervalSinceNow
                if tried.isEmpty, !waitedForCooldown, wait * 1000 <= Double(waits.waitForCooldownMillis) {
                    // Every account is cooling, and the first is back in a moment: wait rather than refuse.
                    waitedForCooldown = true
                    try await Task.sleep(for: .milliseconds(max(1, Int64((wait * 1000).rounded(.up)))))
                    continue
                }
                let seconds = max(1, Int(wait.rounded(.up)))
                if tried.isEmpty || lastFailure == .rateLimited { throw GatewayError.allAccountsCooling(retryAfterSeconds: seconds) }
                throw GatewayError.upstreamFailed("The upstream failed and every other account is cooling down.")
            case .none:
                if tried.isEmpty, let wait = requester.sharedPoolClosedFor { throw GatewayError.poolAllowanceExhausted(retryAfterSeconds: wait) }
                if tried.isEmpty { throw GatewayError.noAccount(model: summary.model) }
                throw GatewayError.upstreamFailed("Every upstream account tried for this request failed.")
            }
            let account = lease.account
            tried.insert(account.record.id)
            let id = account.record.id
            let started = ContinuousClock.now
            func failed(_ assessment: FailureAssessment, resetAt: Date?, detail: String) async {
                lease.release()
                await pool.recordFailure(id, assessment, resetAt: resetAt, detail: detail)
                lastFailure = assessment.failure
            }
            func succeeded() async {
                await pool.recordSuccess(id, model: summary.model, for: requester, timeToFirstByte: (ContinuousClock.now - started).seconds)
            }

            let response: UpstreamResponse
            do {
                guard let sent = try await send(body, stream: summary.stream, through: account) else {
                    // No usable OAuth token: out of rotation when the account now needs re-auth, else
                    // the refresh failed for now and the account cools briefly.
                    if pool.needsReauth(id) { lease.release() } else {
                        await failed(FailureAssessment(.transient, .account), resetAt: nil, detail: "no usable OAuth token: the refresh failed")
                    }
                    continue
                }
                response = sent
            } catch is UpstreamTransportError {
                await failed(.unreachable, resetAt: nil, detail: "unreachable or no response head in time")
                continue
            }
            if case .cookie = account.credential {
                let setCookies = response.headers["set-cookie"]
                if !setCookies.isEmpty { await pool.rotateCookie(id, setCookies: setCookies) }
            }
            pool.recordHeadroom(id, headers: response.headers)
            switch response.status {
            case 200..<300:
                guard summary.stream else {
                    // Read the whole answer before committing: garbage or a broken body can still fail over.
                    if let body = try? await response.body.collect(upTo: limits.maxResponseBytes),
                       case .valid(let usage) = ResponseInspection.completion(Data(buffer: body))
                    {
                        await succeeded()
                        return .completion(lease, body, usage)
                    }
                    await failed(.garbage, resetAt: nil, detail: "HTTP \(response.status) with a body that is not a chat completion")
                    continue
                }
                switch await PeekedStream.peek(response) {
                case .ready(let peeked):
                    await succeeded()
                    return .stream(lease, peeked)
                case .failed:
                    await failed(FailureAssessment(.transient, .model(summary.model)), resetAt: nil, detail: "stream failed before its first output")
                }
            case 400..<500 where ![401, 402, 403, 404, 408, 429].contains(response.status):
                return .rejected(lease, response)
            default:
                let errorBody = (try? await response.body.collect(upTo: 64 << 10)).map { Data(buffer: $0) }
                let resetAt = ResetHints.resetTime(
                    header: { response.headers.first(name: $0) }, body: errorBody, sources: account.manifest.resetHints, now: Date())
                await failed(
                    .response(status: response.status, body: errorBody, model: summary.model), resetAt: resetAt, detail: "HTTP \(response.status)")
            }
        }
        throw GatewayError.upstreamFailed("Every upstream account tried for this request failed.")
    }

    /// Sends through `account`. An OAuth account's token is refreshed first when it is about to
    /// expire, and once more when the provider answers 401; a 401 to the refreshed token means the
    /// provider rejects the account (*needs re-auth*). nil: the account has no usable token.
    private func send(_ body: ByteBuffer, stream: Bool, through account: AccountPool.Account) async throws -> UpstreamResponse? {
        let headTimeout = TimeAmount.seconds(Int64(limits.headTimeoutSeconds))
        guard case .oauth = account.credential else {
            return try await client.chatCompletions(body, stream: stream, to: account.target, headTimeout: headTimeout)
        }
        var target = account.target
        guard let credential = await pool.usableCredential(account) else { return nil }
        target.credential = credential
        let response = try await client.chatCompletions(body, stream: stream, to: target, headTimeout: headTimeout)
        guard response.status == 401, case .oauth(let rejected) = credential,
              let refreshed = await pool.refreshToken(account.record.id, replacing: rejected)
        else { return response }
        _ = try? await response.body.collect(upTo: 64 << 10)
        target.credential = refreshed
        let retried = try await client.chatCompletions(body, stream: stream, to: target, headTimeout: headTimeout)
        if retried.status == 401 { await pool.markNeedsReauth(account.record.id) }
        return retried
    }

    private func passThroughRejection(_ response: UpstreamResponse, account: AccountPool.Account, charge: RequestCharge) async throws -> Response {
        let body = try? await response.body.collect(upTo: 1 << 20)
        await charge.settle(RequestOutcome(endReason: .upstreamRejected, status: response.status, provider: account.manifest.id, accountID: account.record.id))
        // Forward the provider's own error only when it is in OpenAI's shape; otherwise say it plainly.
        if let body, let object = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any], object["error"] is [String: Any] {
            return Response(
                status: .init(code: response.status), headers: [.contentType: "application/json", .shouldRetry: "false"],
                body: .init(byteBuffer: body))
        }
        throw GatewayError(
            status: response.status, type: "invalid_request_error", code: "upstream_rejected",
            message: "The upstream rejected the request with status \(response.status).", shouldRetry: false)
    }
}
