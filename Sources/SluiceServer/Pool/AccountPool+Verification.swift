import Foundation
import SluiceCore

/// Early verification: a long cooldown is checked by a minimal request before it ends, so an
/// account whose provider reset early comes back without a restart or an admin. The same probe
/// re-checks a rejected credential once; a second rejection marks the account *needs re-auth*.
extension AccountPool {
    public enum ProbeResult: Sendable, Equatable {
        case ok
        /// 401: the provider rejects the credential.
        case rejectedCredential
        case stillFailing
    }

    /// Sends the smallest request `model` accepts through `account`.
    public typealias Prober = @Sendable (Account, String) async -> ProbeResult

    public func useProber(_ prober: @escaping Prober) { self.prober.withLock { $0 = prober } }

    public func useTokenRefresher(_ refresher: @escaping CredentialKeeper.TokenRefresher) { credentials.useTokenRefresher(refresher) }

    /// Probes every cooling scope whose verify time has come. `run()` calls it after each refresh;
    /// tests call it with a time of their own.
    public func verifyDue(now: Date) async {
        guard let probe = prober.withLock({ $0 }) else { return }
        let snapshot = registry.snapshot()
        let due = cooldowns.dueForVerification(now: now) { !snapshot.inRotation($0) }.compactMap { key -> (CooldownBook.ScopeKey, Account, String)? in
            guard let account = snapshot.accounts[key.accountID], let model = key.scope.model ?? account.models.sorted().first else { return nil }
            return (key, account, model)
        }
        for (key, account, model) in due {
            let result = await verify(account, model, with: probe)
            logger.notice("verification probe", metadata: [
                "account": "\(key.accountID)", "scope": "\(key.scope.model ?? "account")", "result": "\(result)",
            ])
            switch result {
            case .ok: await cooldowns.verified(key)
            case .rejectedCredential: if !needsReauth(key.accountID) { await credentials.markNeedsReauth(key.accountID) }
            case .stillFailing: await cooldowns.verificationFailed(key, now: now)
            }
        }
    }

    /// Probes under the request's credential rule (`CredentialKeeper.sendWithUsableCredential`).
    /// A rejection that refreshing could not answer for counts only once the account needs re-auth.
    private func verify(_ account: Account, _ model: String, with probe: Prober) async -> ProbeResult {
        let result = await credentials.sendWithUsableCredential(account, isRejected: { $0 == .rejectedCredential }, discard: { _ in }) {
            await probe($0, model)
        }
        guard let result else { return .stillFailing }
        if result == .rejectedCredential, case .oauth = account.credential, !needsReauth(account.record.id) { return .stillFailing }
        return result
    }
}
