import Foundation
import SluiceCore
import SluiceProviders
import SluiceStore
import Synchronization

/// How one request ended, as far as billing and the usage log care.
struct RequestOutcome: Sendable {
    enum EndReason: String, Sendable {
        case completed
        case upstreamError = "upstream_error"
        case upstreamRejected = "upstream_rejected"
        case clientDisconnect = "client_disconnect"
        case noAccount = "no_account"
        case abandoned
        /// The instance serving it died; another instance, or this one restarted, settled it.
        case instanceLost = "instance_lost"
        /// The stream ran past `server.max_stream_seconds` or `server.max_stream_bytes`.
        case streamLimit = "stream_limit"
        /// The server was shutting down and the stream outlived `server.drain_seconds`.
        case serverShutdown = "server_shutdown"
    }

    var endReason: EndReason
    var status: Int
    var provider: String? = nil
    var accountID: Int64? = nil
    /// The model that served: the request's own, or for an alias the target that answered.
    var servedModel: String? = nil
    /// The protocol the serving account speaks.
    var upstreamProtocol: WireProtocol? = nil
    var price: Price? = nil
    /// Usage the upstream reported, if it did.
    var usage: TokenUsage? = nil
    /// Completion tokens estimated from what reached the client, used when usage is missing.
    var completionEstimate = 0
    /// Whether any upstream output reached the client. Failures before that are free.
    var producedOutput = false
    var timeToFirstToken: Duration? = nil
}

/// What a request was charged for, as its settlement priced it.
struct SettledCharge: Sendable {
    var usage: TokenUsage
    var cost: Credits
}

/// The hold of one request and its settlement, which happens exactly once.
///
/// Every path that ends a request calls `settle`; a second call is a no-op. If the request is
/// dropped without settling (the server could not even start the response), `deinit` hands its
/// hold to the settlement writer to release for free, so no hold outlives its request. While it
/// runs, the in-flight journal checkpoints it (`checkpoint`), so it is settled even if this
/// process dies.
final class RequestCharge: Sendable {
    let requestID: String
    let key: APIKeyRecord
    let model: String
    /// The client's protocol as the usage log names it.
    let clientProtocol: String
    let stream: Bool
    let promptEstimate: Int
    let started: ContinuousClock.Instant
    /// Set when the key has a spending limit: its allowance is held and settled alongside.
    private let keyBudgeted: Bool
    /// Set when a team member's spending limit was held too: the membership it is kept under.
    private let memberBudgetID: Int64?
    private let allowance: SharedPoolAllowance
    private let pricing: Pricing
    private let writer: SettlementWriter
    private let journal: InFlightJournal?
    /// Told how the request was served and charged, for its access-log line.
    private let observation: RequestObservation?
    private let state = Mutex(State())

    struct State {
        var settled = false
        /// A checkpoint was taken: the settlement deletes its row.
        var checkpointed = false
        /// How the request would end now, as a stream reports its progress.
        var progress: RequestOutcome? = nil
        /// The account serving the request, released when it settles.
        var lease: AccountLease? = nil
    }

    init(
        requestID: String, key: APIKeyRecord, model: String, clientProtocol: String, stream: Bool, promptEstimate: Int,
        keyBudgeted: Bool, memberBudgetID: Int64? = nil, allowance: SharedPoolAllowance, pricing: Pricing, writer: SettlementWriter, journal: InFlightJournal?,
        observation: RequestObservation? = nil
    ) {
        self.observation = observation
        self.requestID = requestID
        self.key = key
        self.model = model
        self.clientProtocol = clientProtocol
        self.stream = stream
        self.promptEstimate = promptEstimate
        self.started = .now
        self.keyBudgeted = keyBudgeted
        self.memberBudgetID = memberBudgetID
        self.allowance = allowance
        self.pricing = pricing
        self.writer = writer
        self.journal = journal
        journal?.register(self)
    }

    deinit {
        if let pending = claim(RequestOutcome(endReason: .abandoned, status: 499)) { writer.settleLater(pending) }
    }

    /// The account that serves this request; its slot is freed when the request settles.
    func attach(_ lease: AccountLease) {
        state.withLock { $0.lease = lease }
    }

    /// How the request would end if it ended now; what a checkpoint charges.
    func progressed(_ outcome: RequestOutcome) {
        state.withLock { $0.progress = outcome }
    }

    /// Charges for what the request used and queues its ledger entry and usage row. When the holds
    /// cannot be reached, the settlement writer settles it once they can. Returns the usage and
    /// the cost it was priced at, for the call that settled it; nil for later calls.
    @discardableResult
    func settle(_ outcome: RequestOutcome) async -> SettledCharge? {
        guard let pending = claim(outcome) else { return nil }
        await writer.settle(pending)
        return SettledCharge(usage: pending.record.usage, cost: pending.cost)
    }

    /// What the request would be charged if its process died now, by the same rule as `settle`;
    /// nil once it settled.
    func checkpoint() -> InFlightCharge? {
        let progress: RequestOutcome? = state.withLock { state in
            guard !state.settled else { return nil }
            state.checkpointed = true
            return state.progress ?? RequestOutcome(endReason: .instanceLost, status: 499)
        }
        guard var outcome = progress else { return nil }
        outcome.endReason = .instanceLost
        var (record, cost, _) = price(outcome)
        record.charged = cost
        return InFlightCharge(record: record, keyBudgeted: keyBudgeted, memberBudgetID: memberBudgetID)
    }

    /// The first call frees the account and prices the outcome; later calls get nil.
    private func claim(_ outcome: RequestOutcome) -> PendingSettlement? {
        let (first, checkpointed, lease) = state.withLock { state in
            defer { state.settled = true }
            return (!state.settled, state.checkpointed, state.lease.take())
        }
        guard first else { return nil }
        journal?.remove(requestID)
        lease?.release()
        var (record, cost, usage) = price(outcome)
        record.checkpointed = checkpointed
        observation?.settled(record, cost: cost)
        return PendingSettlement(
            record: record, cost: cost, keyBudgeted: keyBudgeted, memberBudgetID: memberBudgetID,
            rateLimitedTokens: key.limits.tokensPerMinute == nil ? nil : usage.promptTokens + usage.completionTokens,
            poolSpend: lease.flatMap { allowance.spending(key, lease: $0, usage: usage) })
    }

    /// The charging rule: reported usage is charged at the serving account's price. Without reported
    /// usage, a request that produced output is charged an estimate (prompt estimated from the body,
    /// completion from the content chunks relayed), flagged as one. A request that produced no output
    /// costs nothing. This holds for completed, failed, disconnected and lost requests alike.
    private func price(_ outcome: RequestOutcome) -> (UsageRecord, cost: Credits, TokenUsage) {
        let estimated = outcome.usage == nil && outcome.producedOutput
        let usage =
            outcome.usage
            ?? (outcome.producedOutput
                ? TokenUsage(promptTokens: promptEstimate, completionTokens: outcome.completionEstimate)
                : TokenUsage(promptTokens: 0, completionTokens: 0))
        let cost = outcome.price.map { pricing.cost(of: usage, at: $0) } ?? .zero
        let record = UsageRecord(
            requestID: requestID, userID: key.userID, apiKeyID: key.id, model: model, servedModel: outcome.servedModel,
            clientProtocol: clientProtocol, upstreamProtocol: outcome.upstreamProtocol?.rawValue, provider: outcome.provider,
            accountID: outcome.accountID, usage: usage, charged: .zero, costEstimated: estimated,
            latencyMs: Self.millis(.now - started), ttftMs: outcome.timeToFirstToken.map(Self.millis),
            status: outcome.status, endReason: outcome.endReason.rawValue, stream: stream)
        return (record, cost, usage)
    }

    static func millis(_ d: Duration) -> Int {
        let (seconds, attoseconds) = d.components
        return Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
