import Foundation
import SluiceCore

/// The failover rules of one request (DESIGN.md, step 6), without I/O: given what the pool
/// offers next, whether to try that account, wait, or give up with which error. The dispatcher
/// does the waiting and the sending; this decides.
struct FailoverPlan {
    /// What the dispatcher does next.
    enum Step {
        case attempt(AccountLease)
        /// Every account that could serve is busy: wait at most this long for a slot on one.
        case waitForSlot(on: BusyAccounts, atMost: Duration)
        /// Every account is cooling and the first is back within the configured wait.
        case waitForCooldown(Duration)
        case fail(GatewayError)
    }

    /// The model the client asked for, perhaps an alias: what a refusal names.
    let model: String
    /// Attempts per tier: the requester's own accounts get this many, and so does the shared
    /// pool, so a request tries at most twice this in all.
    let maxAttempts: Int
    let queueDeadline: ContinuousClock.Instant
    let cooldownWaitLimit: Duration
    /// Groups whose shared-pool allowance the requester has spent, with seconds until it refills.
    let closedSharedGroups: [String: Int]
    /// The accounts tried, per model: an account that failed for one target of an alias may
    /// still serve another (a smaller model on the same account).
    private(set) var tried: [String: Set<Int64>] = [:]
    /// Attempts on the requester's own accounts, their team's, and the shared pool: a counter
    /// each, so the hot path allocates nothing for them.
    private var dedicatedAttempts = 0
    private var teamAttempts = 0
    private var sharedAttempts = 0
    var attempts: Int { dedicatedAttempts + teamAttempts + sharedAttempts }
    private(set) var lastFailure: FailureClass?
    private var waitedForCooldown = false

    /// Whether the requester has a team tier (a team key): only then are its attempts counted.
    private let hasTeamTier: Bool

    init(
        model: String, maxAttempts: Int, queueDeadline: ContinuousClock.Instant, cooldownWaitLimit: Duration, closedSharedGroups: [String: Int],
        hasTeamTier: Bool = false
    ) {
        self.model = model
        self.hasTeamTier = hasTeamTier
        self.maxAttempts = maxAttempts
        self.queueDeadline = queueDeadline
        self.cooldownWaitLimit = cooldownWaitLimit
        self.closedSharedGroups = closedSharedGroups
    }

    var mayAttemptAgain: Bool {
        dedicatedAttempts < maxAttempts || (hasTeamTier && teamAttempts < maxAttempts) || sharedAttempts < maxAttempts
    }

    /// The tiers that have had their `maxAttempts`: the pool offers only the others.
    var spentTiers: Set<PoolCandidate.Tier> {
        var spent: Set<PoolCandidate.Tier> = []
        if dedicatedAttempts >= maxAttempts { spent.insert(.dedicated) }
        if hasTeamTier && teamAttempts >= maxAttempts { spent.insert(.team) }
        if sharedAttempts >= maxAttempts { spent.insert(.shared) }
        return spent
    }

    func tried(for model: String) -> Set<Int64> { tried[model] ?? [] }

    static let everyAccountFailed = GatewayError.upstreamFailed("Every upstream account tried for this request failed.")

    /// What to do with the pool's next pick. `clockNow` is for the queue deadline, `now` for
    /// cooldown ends (wall-clock times, as the pool keeps them).
    mutating func step(for pick: AccountPool.Pick, clockNow: ContinuousClock.Instant, now: Date) -> Step {
        switch pick {
        case .account(let lease):
            return .attempt(lease)
        case .busy(let accounts):
            let remaining = queueDeadline - clockNow
            return remaining > .zero ? .waitForSlot(on: accounts, atMost: remaining) : .fail(.accountsBusy(retryAfterSeconds: 1))
        case .cooling(let until):
            let wait = until.timeIntervalSince(now)
            let waitDuration = Duration.milliseconds(max(1, Int64((wait * 1000).rounded(.up))))
            if attempts == 0, !waitedForCooldown, waitDuration <= cooldownWaitLimit {
                // Every account is cooling, and the first is back in a moment: wait rather than refuse.
                waitedForCooldown = true
                return .waitForCooldown(waitDuration)
            }
            let seconds = max(1, Int(wait.rounded(.up)))
            if attempts == 0 || lastFailure == .rateLimited { return .fail(.allAccountsCooling(retryAfterSeconds: seconds)) }
            return .fail(.upstreamFailed("The upstream failed and every other account is cooling down."))
        case .none:
            guard attempts == 0 else { return .fail(Self.everyAccountFailed) }
            if let wait = closedSharedGroups.values.min() { return .fail(.poolAllowanceExhausted(retryAfterSeconds: wait)) }
            return .fail(.noAccount(model: model))
        }
    }

    /// The dispatcher is trying this account of `tier` for `model`; it is not offered for it again.
    mutating func attempting(_ accountID: Int64, of tier: PoolCandidate.Tier, for model: String) {
        tried[model, default: []].insert(accountID)
        switch tier {
        case .dedicated: dedicatedAttempts += 1
        case .team: teamAttempts += 1
        case .shared: sharedAttempts += 1
        }
    }

    mutating func attemptFailed(_ failure: FailureClass) { lastFailure = failure }
}
