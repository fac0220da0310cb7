import SluiceCore

/// What API keys and team members with a spending limit may still spend: the same hold-and-settle
/// bookkeeping as a user's credits (`CreditHolds`), one book kept under key ids and one under
/// team membership ids. This type is the one place that knows those ids stand where the holds say
/// "user", so no caller passes a key or membership id as a user id.
public struct SpendingLimits: Sendable {
    /// Whose limit: an API key's, or a team member's on the team's wallet.
    enum Subject: Sendable, Equatable {
        case key(Int64)
        case member(membershipID: Int64)

        var id: Int64 {
            switch self {
            case .key(let id), .member(let id): id
            }
        }
    }

    let keys: any CreditHolds
    let members: any CreditHolds

    init(keys: any CreditHolds, members: any CreditHolds) {
        self.keys = keys
        self.members = members
    }

    private func book(_ subject: Subject) -> any CreditHolds {
        if case .key = subject { keys } else { members }
    }

    /// Holds `amount` of what the subject may still spend, for `requestID`.
    func hold(_ subject: Subject, amount: Credits, requestID: String) async throws -> HoldOutcome {
        try await book(subject).hold(userID: subject.id, amount: amount, requestID: requestID)
    }

    /// Releases the request's hold and spends what the wallet was charged (zero: gives it back).
    func settle(_ subject: Subject, requestID: String, charged: Credits) async throws {
        _ = try await book(subject).settle(requestID: requestID, cost: charged)
    }

    /// Settles the spend of a request whose own process died before it could.
    func settleOrphaned(_ subject: Subject, requestID: String, charged: Credits) async throws {
        _ = try await book(subject).settleOrphaned(userID: subject.id, requestID: requestID, cost: charged)
    }

    /// The store wrote a spend; `remaining` is what it says is left.
    func persisted(_ subject: Subject, charged: Credits, remaining: Credits) async {
        await book(subject).persisted(userID: subject.id, charged: charged, balanceAfter: remaining)
    }

    /// Forgets what a quiet subject may spend, so the next hold reads its new limit.
    func invalidate(_ subject: Subject) async {
        await book(subject).invalidate(userID: subject.id)
    }

    /// Holds this process made that are not settled yet; for tests and metrics.
    public var outstandingHolds: Int { keys.outstandingHolds + members.outstandingHolds }
}
