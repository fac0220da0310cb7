import Foundation
import Synchronization

/// A budget that refills on its own: up to `capacity` units, recovering `perHour` units an hour.
/// Spending may take it below zero (a request's size is known only once it ends); it then waits
/// until it has recovered above zero again.
public struct RecoveringBudget: Sendable, Equatable {
    public private(set) var capacity: Double
    public private(set) var perHour: Double
    public private(set) var level: Double
    public private(set) var updatedAt: Double

    public init(capacity: Int, perHour: Int, now: Double) {
        self.capacity = Double(max(capacity, 0))
        self.perHour = Double(max(perHour, 0))
        level = self.capacity
        updatedAt = now
    }

    /// A budget as a shared store kept it.
    public init(capacity: Int, perHour: Int, level: Double, updatedAt: Double) {
        self.init(capacity: capacity, perHour: perHour, now: updatedAt)
        self.level = min(level, self.capacity)
    }

    /// New terms (the user's plan changed): what was spent stays spent.
    public mutating func reterm(capacity: Int, perHour: Int) {
        self.capacity = Double(max(capacity, 0))
        self.perHour = Double(max(perHour, 0))
        level = min(level, self.capacity)
    }

    public mutating func recover(to now: Double) {
        guard now > updatedAt else { return }
        level = min(capacity, level + perHour * (now - updatedAt) / 3600)
        updatedAt = now
    }

    public mutating func spend(_ units: Int, at now: Double) {
        recover(to: now)
        level -= Double(max(units, 0))
    }

    /// Whether a request may start now: something is left.
    public func allowsSpending() -> Bool { level > 0 }

    /// Seconds from `updatedAt` until the budget is above zero again; 0 when it is already.
    public func secondsUntilUsable() -> Double {
        guard level <= 0 else { return 0 }
        guard perHour > 0 else { return .infinity }
        return (-level + 1) * 3600 / perHour
    }

    /// Seconds from `updatedAt` until the budget is full.
    public func secondsUntilFull() -> Double {
        guard level < capacity else { return 0 }
        guard perHour > 0 else { return .infinity }
        return (capacity - level) * 3600 / perHour
    }
}

/// What a user may draw from the shared pool: capacity and recovery from their plan, counted in
/// tokens or requests.
public struct AllowanceTerms: Sendable, Equatable {
    public enum Unit: String, Sendable, Codable {
        case tokens
        case requests
    }

    public var capacity: Int
    public var perHour: Int
    public var unit: Unit

    public init(capacity: Int, perHour: Int, unit: Unit) {
        self.capacity = capacity
        self.perHour = perHour
        self.unit = unit
    }

    /// The terms raised by `percent` (the contributor bonus).
    public func raised(byPercent percent: Int) -> AllowanceTerms {
        AllowanceTerms(capacity: capacity + capacity * percent / 100, perHour: perHour + perHour * percent / 100, unit: unit)
    }

    public func units(promptTokens: Int, completionTokens: Int) -> Int {
        unit == .requests ? 1 : promptTokens + completionTokens
    }
}

/// Each user's allowance per model group (the provider whose shared accounts serve it). Only
/// requests served by the shared pool spend it; a user's own accounts never do. The in-process
/// implementation is `LocalPoolAllowances`; a shared one (Redis) implements the same protocol.
public protocol PoolAllowances: Sendable {
    /// The user's budget in `group` at `now` under `terms`, recovered to `now`. Throws when a
    /// shared store cannot be reached.
    func budget(userID: Int64, group: String, terms: AllowanceTerms, now: Double) async throws -> RecoveringBudget
    /// Spends what a request used. Reads on this instance see it at once; a shared store may
    /// receive it with the next `flushSpends`. An allowance is not money: an implementation that
    /// cannot record the spend logs that and goes on.
    func spend(userID: Int64, group: String, terms: AllowanceTerms, units: Int, now: Double) async
    /// Writes the spends made since the last call to the shared store, if there is one. The
    /// settlement writer calls it with each batch it writes, and when it stops.
    func flushSpends() async
}

public final class LocalPoolAllowances: PoolAllowances {
    struct Key: Hashable {
        var userID: Int64
        var group: String
    }

    private let budgets = Mutex([Key: RecoveringBudget]())

    public init() {}

    public func budget(userID: Int64, group: String, terms: AllowanceTerms, now: Double) -> RecoveringBudget {
        budgets.withLock { all in
            var budget = Self.current(all[Key(userID: userID, group: group)], terms: terms, now: now)
            budget.recover(to: now)
            return budget
        }
    }

    public func spend(userID: Int64, group: String, terms: AllowanceTerms, units: Int, now: Double) {
        guard units > 0 else { return }
        budgets.withLock { all in
            let key = Key(userID: userID, group: group)
            var budget = Self.current(all[key], terms: terms, now: now)
            budget.spend(units, at: now)
            all[key] = budget
        }
    }

    /// Spends are recorded as they are made.
    public func flushSpends() {}

    /// The stored budget under today's terms: a plan change takes effect at once, keeping what was spent.
    static func current(_ stored: RecoveringBudget?, terms: AllowanceTerms, now: Double) -> RecoveringBudget {
        guard var budget = stored else { return RecoveringBudget(capacity: terms.capacity, perHour: terms.perHour, now: now) }
        budget.reterm(capacity: terms.capacity, perHour: terms.perHour)
        return budget
    }
}
