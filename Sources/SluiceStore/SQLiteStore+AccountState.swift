import Foundation
import GRDB
import SluiceCore

/// Cooldowns and *needs re-auth*, so a restart neither forgets a live cooldown nor revives an
/// account the provider rejected.
extension SQLiteStore {
    public func markNeedsReauth(accountID: Int64) async throws {
        try await pool.write { db in
            try db.execute(
                sql: "UPDATE upstream_accounts SET needs_reauth = 1, updated_at = ? WHERE id = ?", arguments: [Date().unixMillis, accountID])
            try outbox(
                db, accountID: accountID, type: .accountNeedsReauth,
                payload: try WebhookPayload.text(WebhookPayload.Account(accountId: accountID, scope: nil, coolingUntil: nil, reason: nil)))
        }
    }

    public func saveCooldown(accountID: Int64, scope: CooldownScope, _ state: CooldownState) async throws {
        guard let until = state.coolingUntil, let reason = state.reason else { return try await deleteCooldown(accountID: accountID, scope: scope) }
        try await pool.write { db in
            try db.execute(
                sql: """
                    INSERT INTO account_cooldowns (account_id, model, cooling_until, reason, level, verify_at, last_failure_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (account_id, model) DO UPDATE SET cooling_until = excluded.cooling_until, reason = excluded.reason,
                        level = excluded.level, verify_at = excluded.verify_at, last_failure_at = excluded.last_failure_at
                    """,
                arguments: [accountID, scope.model ?? "", until.unixMillis, reason.rawValue, state.level, state.verifyAt?.unixMillis,
                            state.lastFailureAt?.unixMillis])
            try outbox(db, accountID: accountID, type: .accountCooling, payload: try WebhookPayload.cooling(accountID: accountID, scope: scope, state))
        }
    }

    public func deleteCooldown(accountID: Int64, scope: CooldownScope) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM account_cooldowns WHERE account_id = ? AND model = ?", arguments: [accountID, scope.model ?? ""])
        }
    }

    public func liveCooldowns(now: Date) async throws -> [StoredCooldown] {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM account_cooldowns WHERE cooling_until <= ?", arguments: [now.unixMillis])
            return try Row.fetchAll(db, sql: "SELECT * FROM account_cooldowns ORDER BY account_id, model").compactMap(StoredCooldown.init(row:))
        }
    }
}
