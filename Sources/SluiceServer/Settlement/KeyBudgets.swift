import SluiceCore

/// What each API key with a spending limit may still spend: the same hold-and-settle bookkeeping
/// as a user's credits (`CreditHolds`), kept under the key's id. This type is the one place that
/// knows a key's id stands where the holds say "user", so no caller passes a key id as a user id.
public struct KeyBudgets: Sendable {
    let holds: any CreditHolds

    init(_ holds: any CreditHolds) { self.holds = holds }

    /// Holds `amount` of the key's remaining budget for `requestID`.
    func hold(keyID: Int64, amount: Credits, requestID: String) async throws -> HoldOutcome {
        try await holds.hold(userID: keyID, amount: amount, requestID: requestID)
    }

    /// Releases the request's hold and spends what the user was charged (zero: gives it back).
    func settle(requestID: String, charged: Credits) async throws {
        _ = try await holds.settle(requestID: requestID, cost: charged)
    }

    /// Settles the spend of a request whose own process died before it could.
    func settleOrphaned(keyID: Int64, requestID: String, charged: Credits) async throws {
        _ = try await holds.settleOrphaned(userID: keyID, requestID: requestID, cost: charged)
    }

    /// The store wrote a spend of the key's; `remaining` is what it says is left.
    func persisted(keyID: Int64, charged: Credits, remaining: Credits) async {
        await holds.persisted(userID: keyID, charged: charged, balanceAfter: remaining)
    }

    /// Holds this process made that are not settled yet; for tests and metrics.
    public var outstandingHolds: Int { holds.outstandingHolds }
}
