import Foundation
import SluiceCore
import SluiceMockUpstream
import SluiceStore
import SluiceTestSupport
import Testing

/// An account pinned to an HTTP CONNECT proxy: its calls go through the proxy with the proxy's
/// credentials, its URL is sealed and never shown whole, and when the proxy fails the request
/// fails over to another account instead of going out directly.
@Suite struct AccountProxyTests {
    @Test func anAccountsCallsGoThroughItsProxyAndFailOverWhenItRefuses() async throws {
        let proxy = try await ConnectProxy.start(requiredAuthorization: "Basic " + Data("egress:s3cret".utf8).base64EncodedString())
        defer { Task { try await proxy.stop() } }
        try await Harness.run { h in
            try await h.account(secret: "direct")
            let owner = try await h.signUp()
            try await h.fund(owner)
            let proxyURL = "http://egress:s3cret@127.0.0.1:\(proxy.port)"
            let added = try await h.api(
                "/api/accounts", method: .POST, body: #"{"provider":"mock","secret":"pinned","proxy_url":"\#(proxyURL)"}"#, as: owner)
            #expect(added.status == 201, "\(added.text)")
            // Where the proxy is, never its password; and the store holds it sealed.
            #expect(added.json?["proxy"] as? String == "127.0.0.1:\(proxy.port)")
            #expect(!added.text.contains("s3cret"))
            let id = try #require(added.json?["id"] as? Int)
            let stored = try #require(try await h.gateway.store.account(id: Int64(id))?.proxy)
            #expect(!String(decoding: stored.ciphertext, as: UTF8.self).contains("s3cret"))

            let key = try #require(try await h.api("/api/api-keys", method: .POST, body: "{}", as: owner).json?["key"] as? String)
            // The owner's own account serves first, through the proxy, with the proxy's credentials.
            #expect(try await h.chat(key).status == 200)
            let mockAddress = String(h.mockBaseURL.dropFirst("http://".count).prefix { $0 != "/" })
            #expect(proxy.seen.withLockedValue { $0.targets } == [mockAddress])
            #expect(h.control.requests.last?.authorization == "Bearer pinned")

            // The proxy refuses: the request fails over to the shared account, and the pinned
            // account's call never goes out directly.
            proxy.refuseWith.withLockedValue { $0 = 502 }
            proxy.dropTunnels()
            // Lets the closes reach the gateway's pooled connection, so the next call needs a new tunnel.
            try await Task.sleep(for: .milliseconds(100))
            let failedOver = try await h.chat(key)
            #expect(failedOver.status == 200, "\(failedOver.text)")
            #expect(h.control.requests.map(\.authorization) == ["Bearer pinned", "Bearer direct"])
            #expect(proxy.seen.withLockedValue { $0.targets.count } == 2)
            let view = try await h.api("/api/accounts", as: owner)
            let pinned = try #require((view.json?["data"] as? [[String: Any]])?.first)
            // The proxy's failure cooled the whole account (no model). Read from the cooldown's
            // record, not from "cooling" now: its first second may be over by the time a loaded
            // machine asks.
            let scopes = try #require(pinned["scopes"] as? [[String: Any]])
            let whole = try #require(scopes.first { $0["model"] == nil || $0["model"] is NSNull }, "\(scopes)")
            #expect(whole["reason"] is String && (whole["backoff_level"] as? Int ?? 0) >= 1, "\(whole)")
            #expect(pinned["cooldowns_entered"] as? Int == 1)
        }
    }

    @Test func aProxyURLIsCheckedAndCanBeRemoved() async throws {
        try await Harness.run { h in
            let owner = try await h.signUp()
            for bad in ["socks5://127.0.0.1:1080", "http://127.0.0.1", "https://proxy.example:443", "http://proxy.example:3128/path", "not a url"] {
                let reply = try await h.api(
                    "/api/accounts", method: .POST, body: #"{"provider":"mock","secret":"s","proxy_url":"\#(bad)"}"#, as: owner)
                #expect(reply.status == 400 && reply.error?["param"] as? String == "proxy_url", "\(bad): \(reply.text)")
            }
            #expect(try await h.gateway.store.accounts(ownerUserID: owner.userID).isEmpty)
            let added = try await h.api(
                "/api/accounts", method: .POST, body: #"{"provider":"mock","secret":"s","proxy_url":"http://proxy.example:3128"}"#, as: owner)
            let id = try #require(added.json?["id"] as? Int)
            #expect(added.json?["proxy"] as? String == "proxy.example:3128")
            let removed = try await h.api("/api/accounts/\(id)", method: .PATCH, body: #"{"proxy_url":""}"#, as: owner)
            #expect(removed.status == 200 && removed.json?["proxy"] == nil)
            #expect(try await h.gateway.store.account(id: Int64(id))?.proxy == nil)
        }
    }
}
