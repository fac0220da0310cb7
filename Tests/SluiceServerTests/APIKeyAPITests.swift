import Foundation
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

@Suite struct APIKeyAPITests {
    @Test func aKeyIsShownOnceAndListedWithItsLimits() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up")
            let user = try await h.signUp()
            let body = #"""
                {"name":"ci","allowed_models":["gpt-test"],"expires_at":"2099-01-01T00:00:00Z","rpm_limit":60,"tpm_limit":1000,
                 "spend_limit":2.5,"ip_allowlist":["127.0.0.1","10.0.0.0/8"]}
                """#
            let created = try await h.api("/api/api-keys", method: .POST, body: body, as: user)
            #expect(created.status == 201)
            let key = try #require(created.json?["key"] as? String)
            #expect(key.hasPrefix("sk-sluice-"))

            let listed = try await h.api("/api/api-keys", as: user)
            let entry = try #require(listed.list.first)
            #expect(entry["key"] == nil)
            #expect(!listed.text.contains(key))
            #expect(entry["name"] as? String == "ci")
            #expect(key.hasPrefix(try #require(entry["prefix"] as? String)))
            #expect(entry["allowed_models"] as? [String] == ["gpt-test"])
            #expect(entry["rpm_limit"] as? Int == 60 && entry["tpm_limit"] as? Int == 1000)
            #expect(listed.text.contains(#""spend_limit":2.5,"#))
            #expect(entry["ip_allowlist"] as? [String] == ["127.0.0.1/32", "10.0.0.0/8"])
            #expect(entry["expires_at"] as? String == "2099-01-01T00:00:00Z")
            #expect(entry["created_at"] is String)
            #expect(entry["last_used_at"] is NSNull)

            try await h.fund(user)
            #expect(try await h.chat(key).status == 200)
            await h.settled()
            #expect(try await h.api("/api/api-keys", as: user).list.first?["last_used_at"] is String)
        }
    }

    @Test(arguments: [
        (#"{"allowed_models":["no-such-model"]}"#, "allowed_models"), (#"{"expires_at":"2001-01-01T00:00:00Z"}"#, "expires_at"),
        (#"{"rpm_limit":0}"#, "rpm_limit"), (#"{"spend_limit":-1}"#, "spend_limit"), (#"{"ip_allowlist":["10.0.0.0/99"]}"#, "ip_allowlist"),
        (#"{"spend_limit":"1.0000001"}"#, "spend_limit"), (#"{"user_id":2}"#, "user_id"),
    ])
    func badKeyRequestsNameTheField(body: String, param: String) async throws {
        try await Harness.run { h in
            try await h.account(secret: "up")
            let reply = try await h.api("/api/api-keys", method: .POST, body: body, as: try await h.signUp())
            #expect(reply.status == 400)
            #expect(reply.error?["param"] as? String == param)
        }
    }

    @Test func aRevokedKeyIsRefusedAtOnce() async throws {
        try await Harness.run(configure: { $0.auth.keyCacheTTLMillis = 60_000 }) { h in
            try await h.account(secret: "up")
            let user = try await h.signUp()
            try await h.fund(user)
            let created = try await h.api("/api/api-keys", method: .POST, body: #"{"name":"x"}"#, as: user)
            let key = try #require(created.json?["key"] as? String)
            let id = try #require(created.json?["id"] as? Int)
            #expect(try await h.chat(key).status == 200)  // now in the key cache, for a minute
            #expect(try await h.api("/api/api-keys/\(id)", method: .DELETE, as: user).status == 204)
            #expect(try await h.chat(key).status == 401)
            #expect(try await h.api("/api/api-keys", as: user).list.isEmpty)
            #expect(try await h.api("/api/api-keys/\(id)", method: .DELETE, as: user).status == 404)
        }
    }

    @Test func keyLimitsAreEnforcedOnChat() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up")
            let user = try await h.signUp()
            try await h.fund(user)
            func key(_ body: String) async throws -> String {
                try #require(try await h.api("/api/api-keys", method: .POST, body: body, as: user).json?["key"] as? String)
            }
            let rpm = try await key(#"{"rpm_limit":2}"#)
            #expect(try await h.chat(rpm).status == 200)
            #expect(try await h.chat(rpm).status == 200)
            let limited = try await h.chat(rpm)
            #expect(limited.status == 429 && limited.errorCode == "rate_limit_exceeded")
            #expect(Int(limited.headers.first(name: "retry-after") ?? "") ?? 0 >= 1)

            // The mock reports 14 tokens per completion; after one, a 10-token budget is spent.
            let tpm = try await key(#"{"tpm_limit":10}"#)
            #expect(try await h.chat(tpm).status == 200)
            #expect(try await h.chat(tpm).status == 429)

            let elsewhere = try await key(#"{"ip_allowlist":["10.0.0.0/8"]}"#)
            let refused = try await h.chat(elsewhere)
            #expect(refused.status == 403 && refused.errorCode == "ip_not_allowed")
            #expect(try await h.chat(try await key(#"{"ip_allowlist":["127.0.0.0/8","::1"]}"#)).status == 200)

            let onlyOther = try await key(#"{"allowed_models":["gpt-other"]}"#)
            #expect(try await h.chat(onlyOther).status == 404)
        }
    }

    @Test func concurrentRequestsNeverSpendMoreThanTheKeysLimit() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up")
            let user = try await h.signUp()
            try await h.fund(user, Credits(whole: 100))
            // Each request holds its worst case (~0.002 credits) and is charged far less; the limit
            // admits a few at once and never lets the total pass it.
            let limit = Credits(micros: 5_000)
            let created = try await h.api("/api/api-keys", method: .POST, body: #"{"spend_limit":"\#(limit)"}"#, as: user)
            let key = try #require(created.json?["key"] as? String)
            let keyID = try #require((created.json?["id"] as? NSNumber)?.int64Value)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<40 { group.addTask { try await h.chat(key).status } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 429 })
            #expect(statuses.contains(200))
            await h.settled()
            let spent = try await h.gateway.store.usageLogs(userID: user.userID).filter { $0.apiKeyID == keyID }.reduce(Credits.zero) { $0 + $1.charged }
            #expect(spent <= limit)
            #expect(try await h.gateway.store.keySpendRemaining(keyID: keyID) == limit - spent)
            for _ in 0..<200 where try await h.chat(key).status == 200 {}
            let refused = try await h.chat(key)
            #expect(refused.status == 429 && refused.errorCode == "key_spend_limit_reached")
        }
    }
}
