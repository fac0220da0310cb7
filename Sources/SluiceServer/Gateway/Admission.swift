import Foundation
import SluiceCore
import SluiceProviders
import SluiceStore

/// Step 2 of the hot path: whether this key may send this request now. Every check reads memory
/// or a shared counter, never the store.
struct Admission: Sendable {
    let pool: AccountPool
    let rateLimiter: any KeyRateLimiting
    let allowance: SharedPoolAllowance
    let settlements: SettlementWriter
    let clock: any WallClock

    /// A request let in: the model's limits for the hold, and the shared-pool groups closed to
    /// the key's owner, for selection.
    struct Admitted: Sendable {
        var model: ProviderManifest.Model
        var closedSharedGroups: [String: Int]
    }

    /// Checks, in order: the key's address allowlist, its model allowlist, that some account
    /// serves the model, that billing keeps up, the key's RPM and TPM, and the owner's shared-pool
    /// allowance. `address` is read only when the key has an allowlist.
    func admit(_ summary: ChatRequestSummary, key: APIKeyRecord, from address: @autoclosure () -> String?) async throws -> Admitted {
        if let allowlist = key.limits.ipAllowlist {
            guard let address = address(), allowlist.contains(where: { $0.contains(address) }) else { throw GatewayError.addressNotAllowed }
        }
        if let allowed = key.limits.allowedModels, !allowed.contains(summary.model) { throw GatewayError.modelNotFound(summary.model) }
        guard let model = pool.modelLimits(summary.model) else { throw GatewayError.modelNotFound(summary.model) }
        guard !settlements.isBackedUp else { throw GatewayError.overloaded("The gateway is catching up on billing. Retry shortly.") }
        let admission: RateDecision
        do {
            admission = try await rateLimiter.admit(
                keyID: key.id, rpm: key.limits.requestsPerMinute, tpm: key.limits.tokensPerMinute, now: clock.now().timeIntervalSince1970)
        } catch {
            throw GatewayError.dependencyUnavailable("The gateway cannot reach its rate limits right now.")
        }
        if case .limited(let limit, let retryAfter) = admission {
            throw GatewayError.rateLimited("This API key's \(limit)-per-minute limit is reached.", retryAfterSeconds: retryAfter)
        }
        do {
            return Admitted(model: model, closedSharedGroups: try await allowance.closedGroups(key, model: summary.model, now: clock.now()))
        } catch {
            throw GatewayError.dependencyUnavailable("The gateway cannot reach its shared-pool allowances right now.")
        }
    }
}
