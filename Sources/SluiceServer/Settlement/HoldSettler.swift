import Foundation
import SluiceCore
import SluiceStore

/// A request whose cost is decided but whose holds may not be settled yet: settling needs the
/// credit holds, which may live in Redis and be out of reach for a moment.
struct PendingSettlement: Sendable {
    /// The usage row; its `charged` is filled in by the settle.
    var record: UsageRecord
    var cost: Credits
    /// The key has a spending limit, whose hold is settled with what the user was charged.
    var keyBudgeted: Bool
    /// The team member whose spending limit holds the request too, settled the same way.
    var memberBudgetID: Int64? = nil
    /// Tokens to count against the key's TPM window, when it has one.
    var rateLimitedTokens: Int?
    /// What the request took from the user's shared-pool allowance, when it was served from there.
    var poolSpend: PoolSpend?
    /// What the user's hold settled at; set once, so a retry never settles it twice.
    fileprivate(set) var charged: Credits? = nil
    /// The request's instance died, and its holds (if any are left) are not this process's.
    var orphaned = false
}

extension PendingSettlement {
    /// A request claimed from a dead instance, settled at its last checkpoint. Rate windows and
    /// shared-pool allowances are not money and are not recovered.
    init(orphaned charge: InFlightCharge) {
        var record = charge.record
        let cost = record.charged
        record.charged = .zero
        self.init(record: record, cost: cost, keyBudgeted: charge.keyBudgeted, memberBudgetID: charge.memberBudgetID)
        orphaned = true
    }
}

/// Settles a request's holds: the user's credits, then the key's and team member's spending limits, then the key's
/// TPM window and the user's shared-pool allowance. Requests settle inline; the `SettlementWriter` retries the ones whose holds could
/// not be reached, and settles requests dropped before they could settle themselves.
struct HoldSettler: Sendable {
    let credits: any CreditHolds
    let spendingLimits: SpendingLimits?
    let rateLimiter: (any KeyRateLimiting)?
    let allowances: (any PoolAllowances)?
    let clock: any WallClock

    /// The usage record to write, or nil when the request id had no hold (it settled already).
    /// A throw leaves `pending` holding what was done, so calling again finishes the rest.
    func settle(_ pending: inout PendingSettlement) async throws -> UsageRecord? {
        let requestID = pending.record.requestID
        if pending.charged == nil {
            if pending.orphaned {
                pending.charged = try await credits.settleOrphaned(userID: pending.record.userID, requestID: requestID, cost: pending.cost).charged
            } else {
                guard let settlement = try await credits.settle(requestID: requestID, cost: pending.cost) else { return nil }
                pending.charged = settlement.charged
            }
        }
        let charged = pending.charged ?? .zero
        if pending.keyBudgeted {
            try await settleLimit(.key(pending.record.apiKeyID), of: pending, charged: charged)
            pending.keyBudgeted = false
        }
        if let membershipID = pending.memberBudgetID {
            try await settleLimit(.member(membershipID: membershipID), of: pending, charged: charged)
            pending.memberBudgetID = nil
        }
        if let tokens = pending.rateLimitedTokens {
            // A window is not money: a count that cannot be recorded is logged there and dropped.
            await rateLimiter?.recordTokens(keyID: pending.record.apiKeyID, tokens: tokens, now: clock.now().timeIntervalSince1970)
            pending.rateLimitedTokens = nil
        }
        if let spend = pending.poolSpend {
            // Nor is an allowance: counted at once, sent to a shared store with the writer's next
            // batch, and logged when it cannot be.
            await allowances?.spend(userID: spend.userID, group: spend.group, terms: spend.terms, units: spend.units, now: clock.now().timeIntervalSince1970)
            pending.poolSpend = nil
        }
        var record = pending.record
        record.charged = charged
        return record
    }

    private func settleLimit(_ subject: SpendingLimits.Subject, of pending: PendingSettlement, charged: Credits) async throws {
        if pending.orphaned {
            try await spendingLimits?.settleOrphaned(subject, requestID: pending.record.requestID, charged: charged)
        } else {
            try await spendingLimits?.settle(subject, requestID: pending.record.requestID, charged: charged)
        }
    }
}
