import Crypto
import Foundation
import Logging
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

/// The security properties issue 4 lists, each as a test that fails if the property breaks.
@Suite struct APISecurityTests {
    @Test func anotherUsersKeysLogsAndCreditsAreNotFoundNotForbidden() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up")
            let alice = try await h.signUp(), bob = try await h.signUp()
            try await h.fund(alice)
            let created = try await h.api("/api/api-keys", method: .POST, body: "{}", as: alice)
            let aliceKeyID = try #require(created.json?["id"] as? Int)
            let aliceKey = try #require(created.json?["key"] as? String)
            #expect(try await h.chat(aliceKey).status == 200)
            await h.settled()

            let steal = try await h.api("/api/api-keys/\(aliceKeyID)", method: .DELETE, as: bob)
            #expect(steal.status == 404)
            #expect(steal.body == (try await h.api("/api/api-keys/987654", method: .DELETE, as: bob)).body)
            #expect(try await h.chat(aliceKey).status == 200)  // still alive
            #expect(try await h.api("/api/api-keys", as: bob).list.isEmpty)
            #expect(try await h.api("/api/usage/logs?user_id=\(alice.userID)", as: bob).list.isEmpty)
            #expect(try await h.api("/api/usage/logs?key_id=\(aliceKeyID)", as: bob).list.isEmpty)
            #expect(try await h.api("/api/credits/transactions", as: bob).list.isEmpty)
            #expect((try await h.api("/api/usage/stats?user_id=\(alice.userID)", as: bob).json?["total"] as? [String: Any])?["requests"] as? Int == 0)
        }
    }

    @Test func noEndpointLetsUsersSetTheirOwnBalanceRoleOrPlan() async throws {
        try await Harness.run { h in
            let sneaky = #"{"email":"sneaky@test.dev","password":"long enough pw","role":"admin","balance":1000,"plan":"enterprise"}"#
            let register = try await h.request("/api/auth/register", body: sneaky, key: nil)
            #expect(register.status == 400 && register.errorCode == "unknown_field")
            #expect(try await h.gateway.store.user(email: "sneaky@test.dev") == nil)

            let user = try await h.signUp()
            for (method, path, body) in [
                (NIOHTTP1.HTTPMethod.PATCH, "/api/auth/me", #"{"role":"admin"}"#), (.PUT, "/api/auth/me", #"{"balance":1000}"#),
                (.PATCH, "/api/admin/users/\(user.userID)", #"{"role":"admin","plan":"enterprise"}"#),
                (.POST, "/api/admin/users/\(user.userID)/credits", #"{"amount":1000,"reason":"me"}"#),
                (.POST, "/api/api-keys", #"{"user_id":1,"spent":0}"#),
                (.POST, "/api/credits/redeem", #"{"code":"x","amount":1000}"#),
            ] {
                let reply = try await h.api(path, method: method, body: body, as: user)
                #expect([400, 403, 404, 405].contains(reply.status), "\(method) \(path) answered \(reply.status)")
            }
            let me = try await h.api("/api/auth/me", as: user)
            #expect(me.json?["role"] as? String == "user" && me.json?["plan"] as? String == "free")
            #expect(try await h.gateway.store.balance(userID: user.userID) == .zero)
        }
    }

    static let secret = "test-secret-that-is-long-enough-0123456789"

    /// Signs header and claims as an HS256 JWT with `key`.
    static func jwt(header: [String: Any], claims: [String: Any], key: String) throws -> String {
        func encode(_ object: [String: Any]) throws -> String { base64URL(try JSONSerialization.data(withJSONObject: object)) }
        let input = "\(try encode(header)).\(try encode(claims))"
        let mac = HMAC<SHA256>.authenticationCode(for: Data(input.utf8), using: SymmetricKey(data: Data(key.utf8)))
        return input + "." + base64URL(Data(mac))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func claims(of token: String) throws -> [String: Any] {
        var part = String(token.split(separator: ".")[1]).replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while part.count % 4 != 0 { part += "=" }
        let data = try #require(Data(base64Encoded: part))
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test func forgedAndExpiredAccessTokensAreRejected() async throws {
        try await Harness.run(configure: { $0.auth.jwtSecret = Self.secret }) { h in
            let session = try await h.signUp()
            let real = try Self.claims(of: session.access)
            let now = Int(Date().timeIntervalSince1970)
            let hs256: [String: Any] = ["alg": "HS256", "typ": "JWT"]
            func me(_ token: String) async throws -> Int { try await h.request("/api/auth/me", method: .GET, key: token).status }

            // The control: the same claims re-signed with the right key pass, so each refusal below is for its one defect.
            #expect(try await me(try Self.jwt(header: hs256, claims: real, key: Self.secret)) == 200)

            var unsigned = try Self.jwt(header: ["alg": "none", "typ": "JWT"], claims: real, key: Self.secret).split(separator: ".")
            unsigned[2] = ""
            #expect(try await me(unsigned.joined(separator: ".")) == 401)
            #expect(try await me(String(session.access.split(separator: ".").prefix(2).joined(separator: ".")) + ".") == 401)
            #expect(try await me(try Self.jwt(header: hs256, claims: real, key: "another-secret-that-is-long-enough-012345")) == 401)
            var wrongIssuer = real
            wrongIssuer["iss"] = "someone-else"
            #expect(try await me(try Self.jwt(header: hs256, claims: wrongIssuer, key: Self.secret)) == 401)
            var wrongAudience = real
            wrongAudience["aud"] = ["another-api"]
            #expect(try await me(try Self.jwt(header: hs256, claims: wrongAudience, key: Self.secret)) == 401)
            var expired = real
            expired["exp"] = now - 5
            expired["iat"] = now - 3600
            #expect(try await me(try Self.jwt(header: hs256, claims: expired, key: Self.secret)) == 401)
            var otherUser = real
            otherUser["sid"] = "not-a-session"
            #expect(try await me(try Self.jwt(header: hs256, claims: otherUser, key: Self.secret)) == 401)
            #expect(try await me(try Self.jwt(header: ["alg": "HS512", "typ": "JWT"], claims: real, key: Self.secret)) == 401)
        }
    }

    @Test func loginAttemptsAreLimitedPerAddressWithRetryAfter() async throws {
        try await Harness.run(configure: { $0.auth.loginAttemptsPerIPPerMinute = 3 }) { h in
            let attempt = #"{"email":"x@test.dev","password":"wrong password"}"#
            for _ in 0..<3 { #expect(try await h.request("/api/auth/login", body: attempt, key: nil).status == 401) }
            let limited = try await h.request("/api/auth/login", body: attempt, key: nil)
            #expect(limited.status == 429 && limited.errorCode == "rate_limit_exceeded")
            #expect(Int(limited.headers.first(name: "retry-after") ?? "") ?? 0 >= 1)
        }
    }

    @Test func failedSignInsPauseTheAccountWithRetryAfter() async throws {
        try await Harness.run(configure: { $0.auth.loginFailuresPerAccountPer15Minutes = 2 }) { h in
            _ = try await h.signUp("target@test.dev")
            let wrong = #"{"email":"target@test.dev","password":"wrong password"}"#
            for _ in 0..<2 { #expect(try await h.request("/api/auth/login", body: wrong, key: nil).status == 401) }
            // Even the right password waits now: the guesser cannot learn it is right.
            let right = try await h.request("/api/auth/login", body: #"{"email":"TARGET@test.dev","password":"\#(Harness.password)"}"#, key: nil)
            #expect(right.status == 429)
            #expect(Int(right.headers.first(name: "retry-after") ?? "") ?? 0 >= 1)
            // Another account from the same address is not paused.
            _ = try await h.signUp("bystander@test.dev")
        }
    }

    @Test func aCanaryPasswordAndKeyNeverReachTheLogs() async throws {
        let logs = LogCapture(level: .trace)
        let password = "canary-pw-7f3a9c-\(UUID().uuidString.prefix(6))"
        var key = ""
        try await Harness.run(configure: { $0.logging.level = "trace" }, logs: logs) { h in
            try await h.account(secret: "up")
            let user = try await h.signUp("canary@test.dev", password: password)
            try await h.fund(user)
            key = try #require(try await h.api("/api/api-keys", method: .POST, body: "{}", as: user).json?["key"] as? String)
            #expect(try await h.chat(key).status == 200)
            #expect(try await h.chat(key, stream: true).status == 200)
            _ = try await h.request("/api/auth/login", body: #"{"email":"canary@test.dev","password":"\#(password)x"}"#, key: nil)
            _ = try await h.request("/v1/chat/completions", body: "{broken", key: key)
            _ = try await h.request("/api/auth/refresh", body: #"{"refresh_token":"\#(user.refresh)"}"#, key: nil)
            await h.settled()
        }
        let text = logs.text
        #expect(logs.count > 0, "nothing was logged, so nothing was checked")
        #expect(!text.contains(password))
        #expect(!text.contains(key))
        #expect(!text.contains(String(key.dropFirst(14))))
    }
}

import NIOHTTP1
