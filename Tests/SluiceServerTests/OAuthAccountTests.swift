import AsyncHTTPClient
import Foundation
import SluiceCore
import SluiceProviders
import SluiceServer
import SluiceStore
import Testing

/// OAuth-token accounts against the mock's token endpoint: refresh ahead of expiry and after a
/// 401, one refresh at a time per account, and *needs re-auth* only when the provider rejects
/// the refresh token or a freshly refreshed token.
@Suite struct OAuthAccountTests {
    /// An OAuth account on the mock whose refresh token `refresh` is valid at the token endpoint.
    func oauthAccount(_ h: Harness, access: String = "acct-access-0", refresh: String = "acct-refresh-0", expiresIn: TimeInterval?) async throws -> Int64 {
        h.control.tokenEndpoint.grant(refreshToken: refresh, account: "acct")
        let tokens = OAuthTokens(accessToken: access, refreshToken: refresh, expiresAt: expiresIn.map { Date().addingTimeInterval($0) })
        return try await h.account(secret: tokens.secret, kind: .oauth)
    }

    func storedTokens(_ h: Harness, _ id: Int64) async throws -> (OAuthTokens, generation: Int64) {
        let record = try #require(try await h.gateway.store.account(id: id))
        return (try #require(OAuthTokens.parse(try h.gateway.secrets.open(record.secret))), record.secretGeneration)
    }

    @Test func concurrentRequestsWaitForOneRefreshOfAnExpiringToken() async throws {
        try await Harness.run { h in
            // Expires within the default 300 s refresh-ahead window; the endpoint is slow, so every
            // request arrives while the one refresh is still running.
            let id = try await oauthAccount(h, expiresIn: 60)
            h.control.tokenEndpoint.configure(delay: .milliseconds(300))
            let user = try await h.user()
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<20 { group.addTask { try await h.chat(user.key).status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 200, count: 20))
            #expect(h.control.tokenEndpoint.requests == 1)
            #expect(Set(h.control.requests.map(\.authorization)) == ["Bearer acct-access-1"])
            let (stored, generation) = try await storedTokens(h, id)
            #expect(stored.accessToken == "acct-access-1" && stored.refreshToken == "acct-refresh-1" && generation == 1)
            #expect(!stored.expires(within: 3000, now: Date()))
        }
    }

    @Test func anAccountsOwnOAuthClientRefreshesItsTokensAndIsKept() async throws {
        try await Harness.run { h in
            // As Google's endpoint wants: the issuing client's id and secret with every refresh.
            h.control.tokenEndpoint.grant(refreshToken: "acct-refresh-0", account: "acct")
            let tokens = OAuthTokens(
                accessToken: "acct-access-0", refreshToken: "acct-refresh-0", expiresAt: Date().addingTimeInterval(-1),
                clientID: "own-client.apps.example", clientSecret: "own-client-secret")
            let id = try await h.account(secret: tokens.secret, kind: .oauth)
            let user = try await h.user()
            #expect(try await h.chat(user.key).status == 200)
            #expect(h.control.tokenEndpoint.clients == [["own-client.apps.example", "own-client-secret"]])
            let (stored, _) = try await storedTokens(h, id)
            #expect(stored.accessToken == "acct-access-1")
            #expect(stored.clientID == "own-client.apps.example" && stored.clientSecret == "own-client-secret")
        }
    }

    @Test func aTokenTheProviderRejectsIsRefreshedAndTheRequestRetried() async throws {
        try await Harness.run { h in
            let id = try await oauthAccount(h, expiresIn: nil)
            h.control.set(.fail(status: 401), for: "acct-access-0")
            let user = try await h.user()
            #expect(try await h.chat(user.key).status == 200)
            #expect(h.control.requests.map(\.authorization) == ["Bearer acct-access-0", "Bearer acct-access-1"])
            #expect(h.control.tokenEndpoint.requests == 1)
            #expect(!h.gateway.pool.needsReauth(id) && h.gateway.pool.cooldown(id) == nil)
            // The next request uses the refreshed token at once.
            #expect(try await h.chat(user.key, stream: true).status == 200)
            #expect(h.control.requests.last?.authorization == "Bearer acct-access-1")
        }
    }

    @Test func aRefreshedTokenThatIsStillRejectedNeedsReauth() async throws {
        try await Harness.run { h in
            let id = try await oauthAccount(h, expiresIn: nil)
            try await h.account(secret: "backup", priority: -1)
            h.control.set(.fail(status: 401), for: "acct-access-0")
            h.control.set(.fail(status: 401), for: "acct-access-1")
            let user = try await h.user()
            // The request fails over to the backup account.
            #expect(try await h.chat(user.key).status == 200)
            #expect(h.control.requests.map(\.authorization) == ["Bearer acct-access-0", "Bearer acct-access-1", "Bearer backup"])
            #expect(h.gateway.pool.needsReauth(id))
            #expect(try await h.gateway.store.account(id: id)?.needsReauth == true)
        }
    }

    @Test func invalidGrantNeedsReauthUntilTheOwnerSignsInAgain() async throws {
        try await Harness.run { h in
            let id = try await oauthAccount(h, expiresIn: -10)
            try await h.account(secret: "backup", priority: -1)
            // The refresh token the account holds was never issued: invalid_grant.
            let tokens = OAuthTokens(accessToken: "acct-access-0", refreshToken: "revoked", expiresAt: Date().addingTimeInterval(-10))
            try await h.gateway.store.updateAccountSecret(id: id, try h.gateway.secrets.seal(tokens.secret))
            try await h.gateway.pool.reload()
            let user = try await h.user()
            #expect(try await h.chat(user.key).status == 200)
            #expect(h.control.requests.map(\.authorization) == ["Bearer backup"])
            #expect(h.gateway.pool.needsReauth(id))
            // A new secret from the owner brings it back.
            let fresh = OAuthTokens(accessToken: "signed-in-again", refreshToken: "acct-refresh-0", expiresAt: Date().addingTimeInterval(3600))
            try await h.gateway.store.updateAccountSecret(id: id, try h.gateway.secrets.seal(fresh.secret))
            try await h.gateway.pool.reload()
            #expect(!h.gateway.pool.needsReauth(id))
            // (Another user: the first one's conversation stays bound to the backup account.)
            #expect(try await h.chat(try await h.user().key).status == 200)
            #expect(h.control.requests.last?.authorization == "Bearer signed-in-again")
        }
    }

    @Test func aRefreshThatLosesARaceUsesTheWinnersTokens() async throws {
        // No periodic re-read of the store during the test, however slow the machine: the race
        // needs this process to still hold the stale tokens when the chat arrives.
        try await Harness.run(configure: { $0.accounts.refreshSeconds = 3600 }) { h in
            let id = try await oauthAccount(h, expiresIn: -10)
            // Another instance refreshes first: it spends the single-use refresh token and stores
            // what it got. This process has not re-read the store yet.
            let endpoint = try #require(h.gateway.catalog["mock"]?.oauth)
            let stale = try await storedTokens(h, id).0
            guard case .refreshed(let winner) = await OAuthTokenClient(http: UpstreamHTTPClient()).refresh(stale, at: endpoint)
            else {
                Issue.record("the other instance's refresh failed")
                return
            }
            let sealed = try h.gateway.secrets.seal(winner.secret)
            _ = try await h.gateway.store.rotateAccountSecret(id: id) { _ in sealed }
            let user = try await h.user()
            // This process's refresh gets invalid_grant, re-reads the store, and uses the winner's token.
            #expect(try await h.chat(user.key).status == 200)
            #expect(h.control.tokenEndpoint.requests == 2)
            #expect(h.control.requests.map(\.authorization) == ["Bearer \(winner.accessToken)"])
            #expect(!h.gateway.pool.needsReauth(id))
        }
    }

    @Test func aFailingTokenEndpointKeepsAValidTokenInUseAndNeverDisablesTheAccount() async throws {
        // The pool's own periodic refresh stays out of the test, however slow the machine: one that
        // ran while the endpoint still failed would hand its failure to the explicit call below.
        try await Harness.run(configure: { $0.accounts.refreshSeconds = 3600 }) { h in
            let id = try await oauthAccount(h, expiresIn: 120)
            h.control.tokenEndpoint.configure(failStatus: 503)
            let user = try await h.user()
            // Refresh-ahead fails, but the token has two minutes left: the request still goes out with it.
            #expect(try await h.chat(user.key).status == 200)
            #expect(h.control.requests.map(\.authorization) == ["Bearer acct-access-0"])
            #expect(!h.gateway.pool.needsReauth(id))
            // Once the endpoint answers again, the background refresh replaces the token with no request waiting.
            h.control.tokenEndpoint.configure()
            await h.gateway.pool.credentials.refreshExpiringTokens()
            #expect(try await storedTokens(h, id).0.accessToken == "acct-access-1")
        }
    }

    @Test func ownersAddOAuthAccountsOnlyWithTokensAndAProviderThatRefreshes() async throws {
        try await Harness.run { h in
            let owner = try await h.signUp()
            let noTokens = try await h.api("/api/accounts", method: .POST, body: #"{"provider":"mock","kind":"oauth","secret":"just-a-key"}"#, as: owner)
            #expect(noTokens.status == 400 && noTokens.error?["param"] as? String == "secret")
            let tokens = #"{\"access_token\":\"a\",\"refresh_token\":\"r\",\"expires_at\":4102444800}"#
            let noEndpoint = try await h.api(
                "/api/accounts", method: .POST, body: #"{"provider":"mock-header","kind":"oauth","secret":"\#(tokens)"}"#, as: owner)
            #expect(noEndpoint.status == 400 && noEndpoint.error?["param"] as? String == "kind")
            let created = try await h.api("/api/accounts", method: .POST, body: #"{"provider":"mock","kind":"oauth","secret":"\#(tokens)"}"#, as: owner)
            #expect(created.status == 201)
            #expect(created.json?["kind"] as? String == "oauth")
            #expect(!String(decoding: created.body, as: UTF8.self).contains("access_token"))
        }
    }
}
