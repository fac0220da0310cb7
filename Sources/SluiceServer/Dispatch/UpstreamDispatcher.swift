import Foundation
import NIOCore
import SluiceCore
import SluiceProviders

/// An answer the dispatcher has committed to: nothing more will be tried for the request.
enum CommittedAnswer: Sendable {
    /// A whole, valid answer and the usage it reports.
    case whole(UpstreamAttempt, WholeAnswer)
    /// A stream that has shown its first output (or its end).
    case stream(UpstreamAttempt, PeekedStream)
    /// The upstream refused the request itself (a 400-class error that another account would
    /// refuse too): the client sees the upstream's answer, its status and error body.
    case rejected(UpstreamAttempt, status: Int, body: ByteBuffer?)

    var attempt: UpstreamAttempt {
        switch self {
        case .whole(let attempt, _), .stream(let attempt, _), .rejected(let attempt, _, _): attempt
        }
    }
}

/// The account and adapter that answered a request. After the answer is committed, only the
/// relay reports to the pool, and only through here.
struct UpstreamAttempt: Sendable {
    let lease: AccountLease
    let adapter: any ProviderAdapter
    let model: String
    let pool: AccountPool

    var account: AccountPool.Account { lease.account }

    /// The stream broke after its first byte reached the client: no failover, but the model
    /// cools on the account.
    func streamBroke() async {
        await pool.recordFailure(account.record.id, FailureAssessment(.transient, .model(model)), resetAt: nil)
    }
}

/// Owns the upstream side of a request (DESIGN.md, steps 4 to 6): selects an account, sends
/// through its adapter, classifies the answer, reports the outcome to the pool, fails over
/// before the first byte, and hands back a committed answer.
struct UpstreamDispatcher: Sendable {
    let pool: AccountPool
    let http: UpstreamHTTPClient
    let catalog: ProviderCatalog
    let limits: SluiceConfig.Upstream
    let waits: SluiceConfig.Accounts

    /// Tries accounts in selection order until one answers, at most `maxAttempts` in each tier
    /// (the requester's own accounts, a team key's team accounts, then the shared pool, or the
    /// other way round), never one
    /// twice for a model. A request for an alias tries its targets in the alias's order, each
    /// under its own name, whatever protocol its accounts speak. Before the first attempt it may
    /// wait: for a cooldown that ends within `waitForCooldownMillis`, or for a slot on a busy
    /// account up to `queueTimeoutMillis`.
    /// Each attempt is a span of `trace` when the request is traced.
    func dispatch(_ request: GatewayRequest, for requester: AccountPool.Requester, trace: RequestTrace? = nil) async throws -> CommittedAnswer {
        var requester = requester
        let targets = pool.targets(for: request.summary.model)
        var plan = FailoverPlan(
            model: request.summary.model, maxAttempts: limits.maxAttempts, queueDeadline: .now + .milliseconds(waits.queueTimeoutMillis),
            cooldownWaitLimit: .milliseconds(waits.waitForCooldownMillis), closedSharedGroups: requester.closedSharedGroups,
            hasTeamTier: requester.memberUserID != nil)
        while plan.mayAttemptAgain {
            requester.spentTiers = plan.spentTiers
            let (model, pick) = next(among: targets, for: requester, plan: plan)
            switch plan.step(for: pick, clockNow: .now, now: pool.clock.now()) {
            case .fail(let error):
                throw error
            case .waitForCooldown(let wait):
                try await pool.clock.sleep(for: wait)
            case .waitForSlot(let accounts, let timeout):
                guard await pool.waitForCapacity(on: accounts, timeout: timeout) else { throw GatewayError.accountsBusy(retryAfterSeconds: 1) }
            case .attempt(let lease):
                plan.attempting(lease.account.record.id, of: lease.tier, for: model)
                let attempt = UpstreamAttempt(lease: lease, adapter: catalog.adapter(for: lease.account.manifest), model: model, pool: pool)
                // Under the target's name, in the form its adapter reads: a client's 400 when it cannot be said.
                let prepared = try request.serving(model).prepared(for: attempt.adapter.wireProtocol)
                switch try await send(prepared, through: attempt, for: requester, trace: trace) {
                case .committed(let answer): return answer
                case .failed(let failure): plan.attemptFailed(failure)
                case .skipped: break
                }
            }
        }
        throw FailoverPlan.everyAccountFailed
    }

    /// The first target with an account to try now. When none has one, what the first target
    /// with any account says: the request waits for that one's slot or cooldown, as the
    /// operator's order prefers it.
    private func next(among targets: [String], for requester: AccountPool.Requester, plan: FailoverPlan) -> (String, AccountPool.Pick) {
        var first: (String, AccountPool.Pick)?
        for model in targets {
            let pick = pool.next(model: model, for: requester, excluding: plan.tried(for: model))
            switch pick {
            case .account: return (model, pick)
            case .busy, .cooling: if first == nil { first = (model, pick) }
            case .none: continue
            }
        }
        return first ?? (targets[0], .none)
    }

    /// How one attempt ended.
    private enum AttemptEnd {
        case committed(CommittedAnswer)
        /// The account failed and was marked; try the next.
        case failed(FailureClass)
        /// The account could not be tried (it needs re-auth); try the next.
        case skipped
    }

    private func send(
        _ request: GatewayRequest, through attempt: UpstreamAttempt, for requester: AccountPool.Requester, trace: RequestTrace?
    ) async throws -> AttemptEnd {
        let account = attempt.account
        let started = ContinuousClock.now
        let span = trace?.startAttempt(
            operation: request.operation.spanName, model: attempt.model, provider: account.manifest.id, accountID: account.record.id,
            stream: request.summary.stream)
        var status: Int?
        func failed(_ assessment: FailureAssessment, resetAt: Date? = nil, _ detail: String) async -> AttemptEnd {
            attempt.lease.release()
            await pool.recordFailure(account.record.id, assessment, resetAt: resetAt, detail: detail)
            if let span { RequestTrace.attemptFailed(span, failure: "\(assessment.failure)", status: status, detail: detail) }
            return .failed(assessment.failure)
        }
        func committed(_ answer: CommittedAnswer) -> AttemptEnd {
            if let span { trace?.attemptCommitted(span, status: status ?? 200) }
            return .committed(answer)
        }
        func succeeded(_ answer: CommittedAnswer) async -> AttemptEnd {
            await pool.recordSuccess(account.record.id, model: attempt.model, for: requester, timeToFirstByte: (ContinuousClock.now - started).seconds)
            return committed(answer)
        }

        let response: UpstreamResponse
        do {
            guard let sent = try await post(request, through: attempt) else {
                // No usable OAuth token: out of rotation when the account now needs re-auth, else
                // the refresh failed for now and the account cools briefly.
                if pool.needsReauth(account.record.id) {
                    attempt.lease.release()
                    if let span { RequestTrace.attemptFailed(span, failure: "needs_reauth", status: nil, detail: "the account needs re-authorisation") }
                    return .skipped
                }
                return await failed(FailureAssessment(.transient, .account), "no usable OAuth token: the refresh failed")
            }
            response = sent
        } catch is UpstreamTransportError {
            return await failed(.unreachable, "unreachable or no response head in time")
        } catch {
            // A request this protocol cannot carry: the client's 400, and no attempt made.
            if let span { RequestTrace.attemptFailed(span, failure: "invalid_request", status: nil, detail: "\(error)") }
            throw error
        }
        status = response.status
        await learn(from: response, account: account)

        switch response.status {
        case 200..<300 where request.summary.stream:
            guard case .ready(let peeked) = await PeekedStream.peek(response, translator: attempt.adapter.streamTranslator(for: request)) else {
                return await failed(FailureAssessment(.transient, .model(attempt.model)), "stream failed before its first output")
            }
            return await succeeded(.stream(attempt, peeked))
        case 200..<300:
            // Read the whole answer before committing: garbage or a broken body can still fail over.
            guard let body = try? await response.body.collect(upTo: limits.maxResponseBytes), let whole = attempt.adapter.readWhole(body, for: request) else {
                return await failed(.garbage, "HTTP \(response.status) with a body that is not an answer")
            }
            return await succeeded(.whole(attempt, whole))
        default:
            // The error body decides too: a provider may say "no credit left" with a 400.
            let errorBuffer = try? await response.body.collect(upTo: 1 << 20)
            let errorBody = errorBuffer.map { Data(buffer: $0) }
            // A count's failure says nothing of the account's answers (Anthropic limits counting
            // apart; a compatible provider may not count at all): it neither marks nor fails over.
            if request.operation == .countTokens || attempt.adapter.isRequestRejection(status: response.status, body: errorBody) {
                return committed(.rejected(attempt, status: response.status, body: errorBuffer))
            }
            let resetAt = ResetHints.resetTime(
                header: { response.headers.first(name: $0) }, body: errorBody, sources: account.manifest.resetHints, now: pool.clock.now())
            let assessment = attempt.adapter.assessFailure(status: response.status, body: errorBody, model: attempt.model)
            return await failed(assessment, resetAt: resetAt, "HTTP \(response.status)")
        }
    }

    /// Sends through the attempt's account under the pool's credential rule. nil: the account has
    /// no usable token. Throws `UpstreamTransportError` when no response head arrived.
    private func post(_ request: GatewayRequest, through attempt: UpstreamAttempt) async throws -> UpstreamResponse? {
        let headTimeout = TimeAmount.seconds(Int64(limits.headTimeoutSeconds))
        return try await pool.credentials.sendWithUsableCredential(
            attempt.account, isRejected: { $0.status == 401 }, discard: { _ = try? await $0.body.collect(upTo: 64 << 10) }
        ) { account in
            // A request this protocol cannot carry is the client's 400, thrown through the dispatcher.
            let call = try attempt.adapter.upstreamRequest(for: request, to: account.target)
            return try await http.execute(
                call.method, url: call.url, headers: call.headers, body: call.body, headTimeout: headTimeout, proxy: account.proxy)
        }
    }

    /// What every response tells the pool, whatever its status: a rotated session cookie, and the
    /// account's remaining quota.
    private func learn(from response: UpstreamResponse, account: AccountPool.Account) async {
        if case .cookie = account.credential {
            let setCookies = response.headers["set-cookie"]
            if !setCookies.isEmpty { await pool.credentials.rotateCookie(account.record.id, setCookies: setCookies) }
        }
        pool.recordHeadroom(account.record.id, headers: response.headers)
    }
}
