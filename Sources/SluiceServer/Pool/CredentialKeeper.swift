import Foundation
import Logging
import SluiceCore
import SluiceProviders
import SluiceStore
import Synchronization

/// Credentials that change while the account is in use: session cookies the provider rotates, and
/// OAuth access tokens, refreshed ahead of their expiry and after a 401. It also keeps the one
/// rule for a rejected credential that requests and verification probes share
/// (`sendWithUsableCredential`).
///
/// Every change is written to the store over the generation it was derived from (see
/// `AccountStore.rotateAccountSecret`), so a concurrent rotation, another process's refresh or an
/// owner's new secret is never undone. A token refresh is single-flight per account: whoever
/// needs one while it runs waits for that one.
public final class CredentialKeeper: Sendable {
    /// Refreshes at the endpoint through the account's proxy, if it has one: the provider sees one egress address.
    public typealias TokenRefresher = @Sendable (OAuthTokens, ProviderManifest.OAuth, UpstreamProxy?) async -> OAuthRefreshResult

    private let registry: AccountRegistry
    private let store: any AccountStore
    private let secrets: SecretBox
    /// An OAuth access token is refreshed when it expires within this long.
    private let refreshAhead: TimeInterval
    private let clock: any WallClock
    private let logger: Logger
    private let refresher = Mutex<TokenRefresher?>(nil)
    private let refreshes = Mutex(SingleFlights<Int64, CheckedContinuation<UpstreamCredential?, Never>>())

    public init(
        registry: AccountRegistry, store: any AccountStore, secrets: SecretBox, refreshAhead: TimeInterval, clock: any WallClock, logger: Logger
    ) {
        self.registry = registry
        self.store = store
        self.secrets = secrets
        self.refreshAhead = refreshAhead
        self.clock = clock
        self.logger = logger
    }

    public func useTokenRefresher(_ refresher: @escaping TokenRefresher) { self.refresher.withLock { $0 = refresher } }

    /// Sends through `account` with a usable credential, under the one rule for a rejected one
    /// that a request and a verification probe share: an OAuth token about to expire is refreshed
    /// first; when the provider rejects the token (`isRejected`), it is refreshed once more and
    /// the call is made again, and a rejection of the refreshed token marks the account *needs
    /// re-auth*. When the refresh after a rejection fails, the rejection is what comes back.
    /// `discard` drains an answer that is replaced. nil: the account has no usable token.
    public func sendWithUsableCredential<Answer>(
        _ account: PoolAccount, isRejected: (Answer) -> Bool, discard: (Answer) async -> Void,
        _ send: (PoolAccount) async throws -> Answer
    ) async rethrows -> Answer? {
        guard case .oauth = account.credential else { return try await send(account) }
        var account = account
        guard let credential = await usableCredential(account) else { return nil }
        account.credential = credential
        let answer = try await send(account)
        guard isRejected(answer), case .oauth(let rejected) = credential,
              let refreshed = await refreshToken(account.record.id, replacing: rejected)
        else { return answer }
        await discard(answer)
        account.credential = refreshed
        let retried = try await send(account)
        if isRejected(retried) { await markNeedsReauth(account.record.id) }
        return retried
    }

    /// Takes the account out of rotation, in the store first so a reload cannot bring it back.
    public func markNeedsReauth(_ accountID: Int64) async {
        do { try await store.markNeedsReauth(accountID: accountID) } catch {
            logger.error("needs re-auth could not be saved", metadata: ["account": "\(accountID)", "error": "\(error)"])
        }
        registry.markNeedsReauth(accountID)
        logger.warning("upstream account needs re-auth: the provider rejects its credential", metadata: ["account": "\(accountID)"])
    }

    /// Merges a provider's `Set-Cookie` into the account's session. The merge runs on the stored
    /// cookie inside one store transaction, so rotations that race each other all land.
    public func rotateCookie(_ accountID: Int64, setCookies: [String]) async {
        guard case .cookie(let current) = registry.account(accountID)?.credential,
              CookieJar.merge(cookieHeader: current, setCookies: setCookies) != current
        else { return }
        let secrets = self.secrets
        do {
            let stored = try await store.rotateAccountSecret(id: accountID) { stored in
                let current = try secrets.open(stored.sealed)
                let merged = CookieJar.merge(cookieHeader: current, setCookies: setCookies)
                return merged == current ? nil : try secrets.seal(merged)
            }
            if let stored { registry.adopt(stored, for: accountID) }
        } catch {
            // Memory still follows the provider, so this process keeps working until it restarts.
            registry.updateCredentialInMemory(accountID) { credential in
                guard case .cookie(let current) = credential else { return nil }
                return .cookie(CookieJar.merge(cookieHeader: current, setCookies: setCookies))
            }
            logger.error("rotated cookie could not be saved", metadata: ["account": "\(accountID)", "error": "\(type(of: error))"])
        }
    }

    /// The credential to send through `account` now. An OAuth token that expires within
    /// `refreshAhead` is refreshed first; when that fails, a token that has not yet expired is
    /// still sent. nil: the account has no usable token now.
    public func usableCredential(_ account: PoolAccount) async -> UpstreamCredential? {
        guard case .oauth = account.credential else { return account.credential }
        let now = clock.now()
        // The lease holds a copy from when it was lent; a refresh may have ended since.
        let latest = registry.account(account.record.id)?.credential ?? account.credential
        guard case .oauth(let tokens) = latest, tokens.expires(within: refreshAhead, now: now) else { return latest }
        if let refreshed = await refreshToken(account.record.id, replacing: tokens) { return refreshed }
        return tokens.expires(within: 0, now: now) ? nil : latest
    }

    /// A fresh token in place of `stale`, which the caller found expiring or saw rejected: the
    /// token a refresh since has put in its place, else the result of the refresh running now, else
    /// of one this call runs. nil: no fresh token (the refresh failed, or the account needs re-auth).
    public func refreshToken(_ accountID: Int64, replacing stale: OAuthTokens) async -> UpstreamCredential? {
        enum Step {
            case done(UpstreamCredential?)
            case lead(PoolAccount, OAuthTokens)
            case wait
        }
        /// The token in memory when it is not `stale` and the account is usable.
        let fresher = { [registry] () -> UpstreamCredential? in
            guard !registry.needsReauth(accountID), case .oauth(let current) = registry.account(accountID)?.credential,
                  current.accessToken != stale.accessToken
            else { return nil }
            return .oauth(current)
        }
        let step = refreshes.withLock { refreshes -> Step in
            guard let account = registry.account(accountID), case .oauth(let current) = account.credential,
                  !registry.needsReauth(accountID)
            else { return .done(nil) }
            if current.accessToken != stale.accessToken { return .done(account.credential) }
            return refreshes.lead(accountID) ? .lead(account, current) : .wait
        }
        switch step {
        case .done(let credential):
            return credential
        case .wait:
            return await withCheckedContinuation { continuation in
                guard let missed = refreshes.withLock({ $0.wait(accountID, continuation) }) else { return }
                // The refresh ended between the two looks: what it left is in memory.
                missed.resume(returning: fresher())
            }
        case .lead(let account, let tokens):
            // Unstructured on purpose: a child task would inherit the leader's cancellation, and a
            // client that hangs up must not fail the refresh for everyone waiting on it (this
            // toolchain has no cancellation shield). The token request times out after 30 s. Shutdown
            // awaits it with the request or the refresh loop that started it, since the leader does:
            let refresh = Task { await self.runRefresh(account, tokens) }  // awaited on the next line
            let result = await refresh.value
            for waiter in refreshes.withLock({ $0.finish(accountID) }) { waiter.resume(returning: result) }
            return result
        }
    }

    private func runRefresh(_ account: PoolAccount, _ tokens: OAuthTokens) async -> UpstreamCredential? {
        let id = account.record.id
        guard let endpoint = account.manifest.oauth, let refresher = refresher.withLock({ $0 }) else {
            logger.warning("OAuth account cannot refresh: its provider manifest has no oauth.token_url", metadata: ["account": "\(id)"])
            return nil
        }
        switch await refresher(tokens, endpoint, account.proxy) {
        case .refreshed(let fresh):
            logger.info("OAuth token refreshed", metadata: ["account": "\(id)"])
            return await saveRefreshed(fresh, account)
        case .invalidGrant:
            // A refresh token is single use: if another process refreshed first, the provider rejects
            // ours, and the store holds the winner's tokens.
            if let newer = await newerStoredCredential(account) { return newer }
            await markNeedsReauth(id)
            return nil
        case .failed(let reason):
            logger.warning("OAuth token refresh failed", metadata: ["account": "\(id)", "error": "\(reason)"])
            return nil
        }
    }

    /// Writes refreshed tokens over the generation they were refreshed from. When someone wrote in
    /// between (another process's refresh, an owner's new secret), theirs stands and is used.
    private func saveRefreshed(_ fresh: OAuthTokens, _ account: PoolAccount) async -> UpstreamCredential? {
        let id = account.record.id
        let readGeneration = account.record.secretGeneration
        do {
            let sealed = try secrets.seal(fresh.secret)
            guard let stored = try await store.rotateAccountSecret(id: id, { $0.generation == readGeneration ? sealed : nil }) else {
                return nil
            }
            return registry.adopt(stored, for: id)
        } catch {
            logger.error("refreshed OAuth token could not be saved; this process uses it until it restarts", metadata: [
                "account": "\(id)", "error": "\(type(of: error))",
            ])
            registry.updateCredentialInMemory(id) { _ in .oauth(fresh) }
            return .oauth(fresh)
        }
    }

    /// The stored credential, when it is newer than the one this process refreshed from.
    private func newerStoredCredential(_ account: PoolAccount) async -> UpstreamCredential? {
        guard let record = try? await store.account(id: account.record.id), !record.needsReauth,
              record.secretGeneration > account.record.secretGeneration
        else { return nil }
        logger.info("OAuth refresh lost a race; using the tokens stored by the winner", metadata: ["account": "\(record.id)"])
        return registry.adopt(StoredSecret(sealed: record.secret, generation: record.secretGeneration), for: record.id)
    }

    /// Refreshes tokens that expire soon, so requests rarely wait for a refresh. The pool's loop
    /// calls it after each reload.
    public func refreshExpiringTokens() async {
        let now = clock.now()
        let snapshot = registry.snapshot()
        let expiring = snapshot.accounts.values.filter { account in
            guard case .oauth(let tokens) = account.credential, !snapshot.needsReauth.contains(account.record.id) else { return false }
            return tokens.expires(within: refreshAhead, now: now)
        }
        for account in expiring { _ = await usableCredential(account) }
    }
}
