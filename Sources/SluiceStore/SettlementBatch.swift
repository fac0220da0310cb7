import Foundation
import SluiceCore

/// What one batch of settled requests does to balances, planned before it is written; both stores
/// write it the same way.
///
/// Each user's balance moves once per batch, by the sum of their charges, instead of once per
/// request: at 32 connections a batch holds dozens of one user's requests, and one `UPDATE …
/// RETURNING` per request was a quarter of the settlement writer's work. The ledger still gets one
/// entry per charged request, chained from the balance before the batch in the batch's order, so
/// every entry's before and after are exactly what a per-request update would have written.
struct SettlementBatch {
    /// One user's charged requests in this batch, in the batch's order.
    struct UserCharges {
        let userID: Int64
        fileprivate(set) var records: [UsageRecord] = []
        fileprivate(set) var total = Credits.zero

        /// The ledger lines, given the balance the batch's single update left.
        func ledgerLines(balanceAfterBatch: Int64) -> [LedgerLine] {
            var balance = balanceAfterBatch + total.micros
            return records.map { record in
                let before = balance
                balance -= record.charged.micros
                return LedgerLine(record: record, balanceBefore: before, balanceAfter: balance)
            }
        }
    }

    struct LedgerLine {
        let record: UsageRecord
        let balanceBefore: Int64
        let balanceAfter: Int64
    }

    /// Users with charges, by ascending id: concurrent batches (several instances on one
    /// PostgreSQL) then lock user rows in one order and cannot deadlock on them.
    private(set) var users: [UserCharges] = []
    /// Per key: what the batch spent and when it was last used, written once per key.
    private(set) var keyUse: [Int64: (spent: Int64, lastUsed: Int64)] = [:]

    /// `written`: the batch's records that were new to the usage log, in order. Replays of
    /// requests settled before are left out by the caller, so they charge nothing again.
    init(written: [UsageRecord]) {
        var index: [Int64: Int] = [:]
        for record in written {
            let use = keyUse[record.apiKeyID] ?? (0, 0)
            keyUse[record.apiKeyID] = (use.spent + record.charged.micros, max(use.lastUsed, record.createdAt.unixMillis))
            guard record.charged.micros > 0 else { continue }
            let at: Int
            if let known = index[record.userID] { at = known } else {
                at = users.count
                index[record.userID] = at
                users.append(UserCharges(userID: record.userID))
            }
            users[at].records.append(record)
            users[at].total = users[at].total + record.charged
        }
        users.sort { $0.userID < $1.userID }
    }

    /// The charges as the settlement writer reports them, with each key's allowance after the
    /// whole batch (`remaining`): the credit book then briefly sees less than is left, never more.
    /// So for team keys: `keyMember` names each one's membership, and `memberSpendRemaining` has
    /// the allowance after the whole batch of each membership with a spending limit.
    static func persisted(
        _ lines: [LedgerLine], keySpendRemaining remaining: [Int64: Int64], keyMember: [Int64: Int64] = [:],
        memberSpendRemaining: [Int64: Int64] = [:]
    ) -> [PersistedCharge] {
        lines.map { line in
            let keyID = line.record.apiKeyID
            var charge = PersistedCharge(
                userID: line.record.userID, apiKeyID: keyID, charged: line.record.charged,
                balanceAfter: Credits(micros: line.balanceAfter), keySpendRemaining: remaining[keyID].map(Credits.init(micros:)))
            if let membershipID = keyMember[keyID], let left = memberSpendRemaining[membershipID] {
                charge.memberBudgetID = membershipID
                charge.memberSpendRemaining = Credits(micros: left)
            }
            return charge
        }
    }

    /// Adds each key's spend in this batch to its team membership's (keys without one are absent
    /// from `keyMember`): one total per membership, in ascending order of membership, so that
    /// concurrent batches lock membership rows in one order.
    static func memberSpend(keyMember: [Int64: Int64], keyUse: [Int64: (spent: Int64, lastUsed: Int64)]) -> [(membershipID: Int64, spent: Int64)] {
        var spent: [Int64: Int64] = [:]
        for (keyID, membershipID) in keyMember {
            guard let use = keyUse[keyID], use.spent > 0 else { continue }
            spent[membershipID, default: 0] += use.spent
        }
        return spent.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}

extension Array {
    /// Consecutive slices of at most `count` elements, for statements with a bounded size.
    func slices(of count: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: self.count, by: count).map { self[$0..<Swift.min($0 + count, self.count)] }
    }
}
