import Foundation
import SluiceCore
import SluiceProviders
import SluiceStore
import Synchronization
import Testing
@testable import SluiceServer

/// OAuth refreshes and the one rule for a rejected credential, with a scripted token endpoint
/// and a scripted upstream in place of HTTP.
@Suite struct CredentialKeeperTests {
    /// A token endpoint that hands out `access-1`, `access-2`, … and counts its calls.
    final class TokenEndpoint: Sendable {
        private let state = Mutex((calls: 0, result: OAuthRefreshResult?.none))
        var calls: Int { state.withLock { $0.calls } }
        func fail(with result: OAuthRefreshResult) { state.withLock { $0.result = result } }

        func refresh(_ tokens: OAuthTokens) async -> OAuthRefreshResult {
            // Long enough for every concurrent caller to arrive while the refresh runs.
            try? await Task.sleep(for: .milliseconds(50))
            return state.withLock { state in
                state.calls += 1
                return state.result ?? .refreshed(OAuthTokens(accessToken: "access-\(state.calls)", refreshToken: "r", expiresAt: nil))
            }
        }
    }

    func oauthAccount(_ f: PoolFixture, expiresIn: TimeInterval?) async throws -> Int64 {
        let tokens = OAuthTokens(accessToken: "access-0", refreshToken: "r", expiresAt: expiresIn.map { f.clock.now().addingTimeInterval($0) })
        return try await f.account(tokens.secret, kind: .oauth)
    }

    func bearer(_ account: PoolAccount) -> String? {
        if case .oauth(let tokens) = account.credential { return tokens.accessToken }
        return nil
    }

    @Test func concurrentRequestsWaitForOneRefreshOfAnExpiringToken() async throws {
        try await PoolFixture.with { f in
            let id = try await oauthAccount(f, expiresIn: 60)
            let endpoint = TokenEndpoint()
            f.pool.useTokenRefresher { tokens, _, _ in await endpoint.refresh(tokens) }
            let account = try #require(f.pool.registry.account(id))
            let sent = await withTaskGroup(of: String?.self) { group in
                for _ in 0..<20 { group.addTask { await f.pool.credentials.usableCredential(account).flatMap { if case .oauth(let t) = $0 { t.accessToken } else { nil } } } }
                return await group.reduce(into: [String?]()) { $0.append($1) }
            }
            #expect(endpoint.calls == 1)
            #expect(Set(sent) == ["access-1"])
            #expect(try await f.store.account(id: id).map { try f.secrets.open($0.secret) }.flatMap(OAuthTokens.parse)?.accessToken == "access-1")
        }
    }

    @Test func aRejectedTokenIsRefreshedAndTheCallMadeOnceMore() async throws {
        try await PoolFixture.with { f in
            let id = try await oauthAccount(f, expiresIn: nil)
            let endpoint = TokenEndpoint()
            f.pool.useTokenRefresher { tokens, _, _ in await endpoint.refresh(tokens) }
            let sent = Mutex<[String]>([])
            let answer = await f.pool.credentials.sendWithUsableCredential(
                try #require(f.pool.registry.account(id)), isRejected: { $0 == 401 }, discard: { _ in }
            ) { account in
                sent.withLock { $0.append(bearer(account) ?? "") }
                return bearer(account) == "access-0" ? 401 : 200
            }
            #expect(answer == 200 && sent.withLock { $0 } == ["access-0", "access-1"])
            #expect(!f.pool.needsReauth(id))
        }
    }

    @Test func aRejectionOfTheRefreshedTokenNeedsReauth() async throws {
        try await PoolFixture.with { f in
            let id = try await oauthAccount(f, expiresIn: nil)
            let endpoint = TokenEndpoint()
            f.pool.useTokenRefresher { tokens, _, _ in await endpoint.refresh(tokens) }
            let answer = await f.pool.credentials.sendWithUsableCredential(
                try #require(f.pool.registry.account(id)), isRejected: { $0 == 401 }, discard: { _ in }) { _ in 401 }
            #expect(answer == 401)
            #expect(f.pool.needsReauth(id) && f.pick() == nil)
            #expect(try await f.store.account(id: id)?.needsReauth == true)
        }
    }

    @Test func aFailedRefreshAfterARejectionReturnsTheRejectionAndKeepsTheAccount() async throws {
        try await PoolFixture.with { f in
            let id = try await oauthAccount(f, expiresIn: nil)
            let endpoint = TokenEndpoint()
            endpoint.fail(with: .failed("503"))
            f.pool.useTokenRefresher { tokens, _, _ in await endpoint.refresh(tokens) }
            let calls = Mutex(0)
            let answer = await f.pool.credentials.sendWithUsableCredential(
                try #require(f.pool.registry.account(id)), isRejected: { $0 == 401 }, discard: { _ in }
            ) { _ in
                calls.withLock { $0 += 1 }
                return 401
            }
            #expect(answer == 401 && calls.withLock { $0 } == 1)
            #expect(!f.pool.needsReauth(id))
        }
    }

    @Test func anExpiredTokenThatCannotBeRefreshedIsNotSent() async throws {
        try await PoolFixture.with { f in
            let id = try await oauthAccount(f, expiresIn: 30)
            let endpoint = TokenEndpoint()
            endpoint.fail(with: .failed("503"))
            f.pool.useTokenRefresher { tokens, _, _ in await endpoint.refresh(tokens) }
            let account = try #require(f.pool.registry.account(id))
            // Thirty seconds left: the refresh fails, the old token still goes out.
            #expect(await f.pool.credentials.usableCredential(account) != nil)
            f.clock.advance(by: 31)
            #expect(await f.pool.credentials.usableCredential(account) == nil)
            #expect(await f.pool.credentials.sendWithUsableCredential(account, isRejected: { (_: Int) in false }, discard: { _ in }) { _ in 200 } == nil)
        }
    }

    @Test func invalidGrantNeedsReauth() async throws {
        try await PoolFixture.with { f in
            let id = try await oauthAccount(f, expiresIn: 10)
            let endpoint = TokenEndpoint()
            endpoint.fail(with: .invalidGrant)
            f.pool.useTokenRefresher { tokens, _, _ in await endpoint.refresh(tokens) }
            await f.pool.credentials.refreshExpiringTokens()
            #expect(f.pool.needsReauth(id))
        }
    }

    @Test func aKeyAccountIsSentAsItIs() async throws {
        try await PoolFixture.with { f in
            let id = try await f.account("sk-plain")
            let answer = await f.pool.credentials.sendWithUsableCredential(
                try #require(f.pool.registry.account(id)), isRejected: { (_: String) in true }, discard: { _ in }
            ) { account in account.credential == .apiKey("sk-plain") ? "sent" : "wrong" }
            #expect(answer == "sent" && !f.pool.needsReauth(id))
        }
    }
}
