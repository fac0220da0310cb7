import Foundation

/// A request still running, as it would be settled if its instance died now: the usage row with
/// `charged` holding what the charging rule makes of its progress so far.
public struct InFlightCharge: Sendable, Equatable {
    public var record: UsageRecord
    /// The key has a spending limit whose hold settles with what the user is charged.
    public var keyBudgeted: Bool
    /// The team membership whose spending limit holds this request too, when it does.
    public var memberBudgetID: Int64?

    public init(record: UsageRecord, keyBudgeted: Bool, memberBudgetID: Int64? = nil) {
        self.record = record
        self.keyBudgeted = keyBudgeted
        self.memberBudgetID = memberBudgetID
    }
}

/// Checkpoints of running requests, so that a request whose instance dies (SIGKILL, power loss)
/// is still settled once: by the same deployment after a restart, or by another instance, when
/// its instance's lease on the row has lapsed.
///
/// A row is deleted in the transaction that writes the request's usage row
/// (`recordSettlements`, for records marked `checkpointed`), and a row whose request has a usage
/// row already is never written or claimed: so a request settles once whichever way it ends.
public protocol InFlightStore: Sendable {
    /// Writes (or refreshes) each request's row, owned by `instanceID` until `leaseUntil`.
    func checkpointInFlight(_ charges: [InFlightCharge], instanceID: String, leaseUntil: Date) async throws
    /// Takes over up to `limit` rows whose lease lapsed before `now` and that belong to another
    /// instance, leasing them to `instanceID` until `leaseUntil`; rows of requests that settled
    /// meanwhile are dropped. Two instances never take the same row while its lease runs.
    func claimLapsedInFlight(instanceID: String, now: Date, leaseUntil: Date, limit: Int) async throws -> [InFlightCharge]
}
