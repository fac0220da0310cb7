import Foundation
import Logging
import ServiceLifecycle
import SluiceCore
import SluiceStore

/// Grants each user, and each team's wallet, their plan's monthly credits, once per calendar month (UTC).
///
/// Once means once: the grant's ledger reference is `plan:<user>:<plan>:<yyyy-MM>`, and the ledger
/// refuses a reference twice, so a rerun, a restart or two instances granting at the same time
/// add nothing. It runs at start, every hour, and when a user registers or changes plan.
///
/// Plans sold through Stripe (`invoicedPlans`) are granted by their paid invoices instead, once
/// per billing period (see `StripeWebhook`), so a subscriber is not granted twice.
public final class PlanGrants: Service, Sendable {
    public typealias Store = UserStore & LedgerStore & TeamStore

    let plans: [String: SluiceConfig.Plan]
    let invoicedPlans: Set<String>
    private let store: any Store
    private let credits: any CreditHolds
    private let interval: Duration
    private let logger: Logger

    public init(
        plans: [String: SluiceConfig.Plan], invoicedPlans: Set<String> = [], store: any Store, credits: any CreditHolds,
        interval: Duration = .seconds(3600), logger: Logger
    ) {
        self.plans = plans
        self.invoicedPlans = invoicedPlans
        self.store = store
        self.credits = credits
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while true {
                await self.grantEveryone(now: Date())
                try await Task.sleep(for: self.interval)
            }
        }
    }

    /// The user's grant for the period holding `now`, made if it was not yet. Disabled users get none.
    @discardableResult
    public func grant(_ user: UserRecord, now: Date = Date()) async throws -> LedgerEntry? {
        guard user.status != .disabled, !invoicedPlans.contains(user.plan), let plan = plans[user.plan], plan.monthlyCredits > .zero else {
            return nil
        }
        let period = Self.period(of: now)
        let entry = try await store.credit(
            userID: user.id, amount: plan.monthlyCredits, kind: .grant, referenceID: "plan:\(user.id):\(plan.name):\(period)",
            note: "\(plan.displayName) plan, \(period)")
        await credits.invalidate(userID: user.id)
        return entry
    }

    public func grantEveryone(now: Date) async {
        var cursor: Int64?
        var checked = 0
        do {
            while true {
                let users = try await store.users(search: nil, page: PageRequest(limit: 500, beforeID: cursor))
                for user in users { try await grant(user, now: now) }
                checked += users.count
                guard users.count == 500, let last = users.last else { break }
                cursor = last.id
            }
            // Teams' wallets hold plans too; they are not in the list of people above.
            var offset = 0
            while true {
                let teams = try await store.teams(page: PageRequest(limit: 500, offset: offset))
                for team in teams {
                    if let wallet = try await store.user(id: team.walletUserID) { try await grant(wallet, now: now) }
                }
                checked += teams.count
                guard teams.count == 500 else { break }
                offset += teams.count
            }
        } catch is CancellationError {
            return
        } catch {
            logger.warning("plan grants stopped early; the next pass resumes them", metadata: ["error": "\(error)"])
        }
        logger.debug("plan grants checked", metadata: ["users": "\(checked)"])
    }

    /// `yyyy-MM` in UTC.
    public static func period(of date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let parts = calendar.dateComponents([.year, .month], from: date)
        return String(format: "%04d-%02d", parts.year ?? 1970, parts.month ?? 1)
    }
}
