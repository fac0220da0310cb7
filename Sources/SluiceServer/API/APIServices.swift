import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SluiceCore
import SluiceProviders
import SluiceStore

/// What every `/api` handler needs: the store, sign-in machinery, and the caches that must hear
/// about changes made here (revoked keys, granted credits).
struct APIServices: Sendable {
    let store: any GatewayStore
    let tokens: AccessTokens
    let hasher: PasswordHasher
    let throttle: any LoginThrottling
    let keyCache: KeyAuthenticator
    let credits: any CreditHolds
    /// Team members' limits, forgotten when an admin changes one.
    let spendingLimits: SpendingLimits
    let grants: PlanGrants
    let auth: SluiceConfig.Auth
    let creditsPerUSD: Credits
    let pool: AccountPool
    let allowance: SharedPoolAllowance
    /// Seals the secrets of accounts owners and admins add.
    let secrets: SecretBox
    let catalog: ProviderCatalog
    let serviceTokens: ServiceTokenAuthenticator
    /// Set when `auth.external.issuer` is: an identity provider's tokens sign in too.
    let externalTokens: ExternalTokens?
    /// Set when `email.smtp_host` is: mail goes through the outbox.
    let mailer: Mailer?

    /// Records who did what to which account. A failure to log does not fail the action.
    func log(_ action: String, user: Int64, actor: Int64?, context: some SluiceContext, detail: String? = nil) async {
        do {
            try await store.logActivity(ActivityEntry(userID: user, actorID: actor, action: action, detail: detail, ip: context.remoteAddress))
        } catch {
            context.logger.warning("activity log write failed", metadata: ["action": "\(action)", "user_id": "\(user)"])
        }
    }

    /// The login throttle's verdict as an error: 429 when it refuses, 503 when its windows (in
    /// Redis) cannot be reached, since an unthrottled sign-in would let guessing through. Every
    /// route that checks a secret or sends mail for an address is counted by it.
    func admitSignIn(account: String, context: some SluiceContext, refusal: String = "Too many sign-in attempts. Try again later.") async throws {
        let wait: Int?
        do {
            wait = try await throttle.admit(address: context.remoteAddress ?? "unknown", account: account, now: Date().timeIntervalSince1970)
        } catch {
            throw GatewayError.dependencyUnavailable("The gateway cannot reach its sign-in limits right now.")
        }
        if let wait { throw GatewayError.rateLimited(refusal, retryAfterSeconds: wait) }
    }

    /// A path parameter that must be a positive id; anything else is a 404 like an unknown id.
    static func id(_ context: some RequestContext, _ name: String = "id") throws -> Int64 {
        guard let text = context.parameters.get(name), let id = Int64(text), id > 0 else { throw GatewayError.notFound("No such \(name == "id" ? "resource" : name).") }
        return id
    }
}
