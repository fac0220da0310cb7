import Foundation
import SluiceCore
import SluiceStore

/// Each user's share of the shared pool (DESIGN.md, "Three kinds of limit"): a budget per model
/// group that refills on its own, set by the user's plan, raised by their trust level and for
/// users who share an account of their own. A request spends the group of the account that
/// served it (`AccountPool.Account.allowanceGroup`), and only when that account served from the
/// shared tier.
struct SharedPoolAllowance: Sendable {
    let allowances: any PoolAllowances
    let plans: [String: SluiceConfig.Plan]
    let contributorBonusPercent: Int
    let trustBonusPercentPerLevel: Int
    let pool: AccountPool

    func terms(userID: Int64, plan: String, trustLevel: Int) -> AllowanceTerms? {
        guard let plan = plans[plan] ?? plans["free"] else { return nil }
        let terms = AllowanceTerms(
            capacity: plan.poolCapacity, perHour: plan.poolRecoveryPerHour, unit: AllowanceTerms.Unit(rawValue: plan.poolUnit) ?? .tokens)
        let bonus = max(0, trustLevel) * trustBonusPercentPerLevel + (pool.isContributor(userID) ? contributorBonusPercent : 0)
        return terms.raised(byPercent: bonus)
    }

    func terms(for key: APIKeyRecord) -> AllowanceTerms? { terms(userID: key.userID, plan: key.plan, trustLevel: key.trustLevel) }

    /// The groups serving `model` from the shared tier whose budget the key's owner has spent,
    /// each with the seconds until it is usable again. Throws when shared allowances (Redis)
    /// cannot be reached.
    func closedGroups(_ key: APIKeyRecord, model: String, now: Date) async throws -> [String: Int] {
        guard let terms = terms(for: key) else { return [:] }
        var closed: [String: Int] = [:]
        for group in pool.sharedGroups(serving: model) {
            let budget = try await allowances.budget(userID: key.userID, group: group, terms: terms, now: now.timeIntervalSince1970)
            guard !budget.allowsSpending() else { continue }
            let wait = budget.secondsUntilUsable()
            closed[group] = wait.isFinite ? max(1, Int(wait.rounded(.up))) : 3600
        }
        return closed
    }

    /// What a request served from the shared tier spends; nil for any other request.
    func spending(_ key: APIKeyRecord, lease: AccountLease, usage: TokenUsage) -> PoolSpend? {
        guard lease.tier == .shared, let terms = terms(for: key) else { return nil }
        let units = terms.units(promptTokens: usage.promptTokens, completionTokens: usage.completionTokens)
        return PoolSpend(userID: key.userID, group: lease.account.allowanceGroup, terms: terms, units: units)
    }
}

/// A shared-pool spend, settled with the request's holds.
struct PoolSpend: Sendable {
    var userID: Int64
    var group: String
    var terms: AllowanceTerms
    var units: Int
}
