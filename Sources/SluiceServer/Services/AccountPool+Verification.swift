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

    /// Probes every cooling scope whose verify time has come. `run()` calls it after each refresh;
    /// tests call it with a clock of their own.
    public func verifyDue(now: Date) async {
        guard let probe = prober.withLock({ $0 }) else { return }
        let due: [(ScopeKey, Account, String)] = state.withLock { state in
            state.cooldowns.compactMap { key, cooldown in
                guard cooldown.isDueForVerification(at: now), !state.needsReauth.contains(key.accountID), let account = state.accounts[key.accountID],
                      let model = key.scope.model ?? account.models.sorted().first
                else { return nil }
                return (key, account, model)
            }
        }
        for (key, account, model) in due {
            let result = await verify(account, model, with: probe)
            logger.notice("verification probe", metadata: [
                "account": "\(key.accountID)", "scope": "\(key.scope.model ?? "account")", "result": "\(result)",
            ])
            switch result {
            case .ok:
                state.withLock { _ = $0.cooldowns.removeValue(forKey: key) }
                await persist(key, nil)
            case .rejectedCredential:
                if !needsReauth(key.accountID) { await markNeedsReauth(key.accountID) }
            case .stillFailing:
                let updated: CooldownState? = state.withLock { state in
                    state.cooldowns[key]?.verificationFailed(now: now, policy: policy)
                    return state.cooldowns[key]
                }
                await persist(key, updated)
            }
        }
    }

    /// Probes under the request's credential rule (`sendWithUsableCredential`). A rejection
    /// that refreshing could not answer for counts only once the account needs re-auth.
    private func verify(_ account: Account, _ model: String, with probe: Prober) async -> ProbeResult {
        let result = await sendWithUsableCredential(account, isRejected: { $0 == .rejectedCredential }, discard: { _ in }) {
            await probe($0, model)
        }
        guard let result else { return .stillFailing }
        if result == .rejectedCredential, case .oauth = account.credential, !needsReauth(account.record.id) { return .stillFailing }
        return result
    }

    /// Takes the account out of rotation, in the store first so a refresh cannot bring it back.
    func markNeedsReauth(_ accountID: Int64) async {
        do { try await store.markNeedsReauth(accountID: accountID) } catch {
            logger.error("needs re-auth could not be saved", metadata: ["account": "\(accountID)", "error": "\(error)"])
        }
        state.withLock { _ = $0.needsReauth.insert(accountID) }
        logger.warning("upstream account needs re-auth: the provider rejects its credential", metadata: ["account": "\(accountID)"])
    }

    public func needsReauth(_ accountID: Int64) -> Bool { state.withLock { $0.needsReauth.contains(accountID) } }
}
