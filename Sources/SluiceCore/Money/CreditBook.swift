import Foundation
import Synchronization

/// What a request's settlement did to the user's credits.
public struct Settlement: Sendable, Equatable {
    public var userID: Int64
    public var requestID: String
    /// What was charged: the cost, capped so that a balance is never overdrawn.
    public var charged: Credits
    /// What the usage would have cost uncapped.
    public var cost: Credits
    public var held: Credits

    public init(userID: Int64, requestID: String, charged: Credits, cost: Credits, held: Credits) {
        self.userID = userID
        self.requestID = requestID
        self.charged = charged
        self.cost = cost
        self.held = held
    }
}

public enum HoldOutcome: Sendable, Equatable {
    case held
    case insufficient(available: Credits)
}

/// Credit holds and settlements, kept where the request path can reach them without a database
/// round trip. The store stays the source of truth: charges are queued for it, and its answers
/// (`persisted`) bring the in-memory balance back in line with it.
///
/// Invariants, each tested:
/// - `available = durable − unflushed − held` never goes below zero through holds, so concurrent
///   requests never charge more than the balance;
/// - each request id settles once: the second settle finds no hold and returns nil.
public protocol CreditHolds: Sendable {
    /// Holds `amount` for `requestID`, or reports how much is available.
    func hold(userID: Int64, amount: Credits, requestID: String) async throws -> HoldOutcome
    /// Releases the hold and charges `cost` (capped at what the user has). Returns nil when the
    /// request id has no hold: it was settled already. Durable effects are the caller's to queue.
    /// Throws only when the holds cannot be reached; the hold is then still there to settle again.
    func settle(requestID: String, cost: Credits) async throws -> Settlement?
    /// Settles a request whose own process died before it could: releases its hold if one is
    /// still here and charges `cost`, capped at what the user has. A retry soon after gets the
    /// first answer, where the holds are shared. Throws only when the holds cannot be reached.
    func settleOrphaned(userID: Int64, requestID: String, cost: Credits) async throws -> Settlement
    /// The store applied a charge; `balanceAfter` is the durable balance it reported.
    func persisted(userID: Int64, charged: Credits, balanceAfter: Credits) async
    /// Credits available to new holds, loading the balance if needed.
    func available(userID: Int64) async throws -> Credits
    /// Forgets a quiet user's cached balance, so the next hold reads the store (after a grant).
    func invalidate(userID: Int64) async
    /// Holds this process made that are not settled yet; for tests and metrics.
    var outstandingHolds: Int { get }
}

/// The embedded, single-process implementation of `CreditHolds`.
public final class CreditBook: CreditHolds {
    public typealias BalanceLoader = @Sendable (Int64) async throws -> Credits?

    struct Entry {
        /// The balance the store holds, as last read or reported.
        var durable: Int64
        /// Charges settled here but not yet written by the store.
        var unflushed: Int64 = 0
        var held: Int64 = 0
        var loadedAt: ContinuousClock.Instant
        /// Bumped on every change, so a reload that raced with one is dropped.
        var version: UInt64 = 0
        var available: Int64 { durable - unflushed - held }
        var isQuiet: Bool { unflushed == 0 && held == 0 }
    }

    struct State {
        var users: [Int64: Entry] = [:]
        var holds: [String: (userID: Int64, amount: Int64)] = [:]
    }

    private let state = Mutex(State())
    private let loader: BalanceLoader
    /// How long a quiet balance is trusted before it is read again, to see grants made elsewhere.
    private let refreshAfter: Duration

    public init(refreshAfter: Duration = .seconds(5), loader: @escaping BalanceLoader) {
        self.loader = loader
        self.refreshAfter = refreshAfter
    }

    public struct UnknownUser: Error { public init() {} }
    public struct DuplicateRequest: Error { public init() {} }

    public func hold(userID: Int64, amount: Credits, requestID: String) async throws -> HoldOutcome {
        try await ensureLoaded(userID)
        return try state.withLock { state throws -> HoldOutcome in
            guard state.holds[requestID] == nil else { throw DuplicateRequest() }
            guard var entry = state.users[userID] else { throw UnknownUser() }
            let available = entry.available
            guard available >= amount.micros else { return .insufficient(available: Credits(micros: max(0, available))) }
            entry.held += amount.micros
            entry.version &+= 1
            state.users[userID] = entry
            state.holds[requestID] = (userID, amount.micros)
            return .held
        }
    }

    public func settle(requestID: String, cost: Credits) -> Settlement? {
        state.withLock { state in
            guard let hold = state.holds.removeValue(forKey: requestID),
                  var entry = state.users[hold.userID]
            else { return nil }
            entry.held -= hold.amount
            let charge = min(max(cost.micros, 0), max(entry.available, 0))
            entry.unflushed += charge
            entry.version &+= 1
            state.users[hold.userID] = entry
            return Settlement(
                userID: hold.userID, requestID: requestID, charged: Credits(micros: charge), cost: cost,
                held: Credits(micros: hold.amount))
        }
    }

    /// In one process a dead request's hold died with it: the charge is all there is to do.
    public func settleOrphaned(userID: Int64, requestID: String, cost: Credits) async throws -> Settlement {
        if let settled = settle(requestID: requestID, cost: cost) { return settled }
        try await ensureLoaded(userID)
        return try state.withLock { state in
            guard var entry = state.users[userID] else { throw UnknownUser() }
            let charge = min(max(cost.micros, 0), max(entry.available, 0))
            entry.unflushed += charge
            entry.version &+= 1
            state.users[userID] = entry
            return Settlement(userID: userID, requestID: requestID, charged: Credits(micros: charge), cost: cost, held: .zero)
        }
    }

    public func persisted(userID: Int64, charged: Credits, balanceAfter: Credits) {
        state.withLock { state in
            guard var entry = state.users[userID] else { return }
            entry.unflushed -= charged.micros
            entry.durable = balanceAfter.micros
            entry.loadedAt = .now
            entry.version &+= 1
            state.users[userID] = entry
        }
    }

    public func available(userID: Int64) async throws -> Credits {
        try await ensureLoaded(userID)
        return state.withLock { Credits(micros: $0.users[userID]?.available ?? 0) }
    }

    public var outstandingHolds: Int { state.withLock { $0.holds.count } }

    public func invalidate(userID: Int64) {
        state.withLock { state in
            if state.users[userID]?.isQuiet == true { state.users[userID] = nil }
        }
    }

    private func ensureLoaded(_ userID: Int64) async throws {
        let now = ContinuousClock.now
        let (needed, version): (Bool, UInt64?) = state.withLock { state in
            guard let entry = state.users[userID] else { return (true, nil) }
            let stale = entry.isQuiet && now - entry.loadedAt > refreshAfter
            return (stale, entry.version)
        }
        guard needed else { return }
        let loaded: Credits?
        do { loaded = try await loader(userID) } catch {
            // A known balance whose refresh fails stays in use: every charge of this process
            // passes through here, so it can only miss credit added since, never overspend.
            if version != nil { return }
            throw error
        }
        guard let balance = loaded else { throw UnknownUser() }
        state.withLock { state in
            switch (state.users[userID], version) {
            case (nil, _):
                state.users[userID] = Entry(durable: balance.micros, loadedAt: .now)
            case (var entry?, let seen?) where entry.version == seen && entry.isQuiet:
                entry.durable = balance.micros
                entry.loadedAt = .now
                state.users[userID] = entry
            default:
                break  // Someone changed the entry while we read; its figures are newer than ours.
            }
        }
    }
}
