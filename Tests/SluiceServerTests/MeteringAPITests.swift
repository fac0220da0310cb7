import Foundation
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

/// The metering API other services call: scoped service tokens, the seed's usage and credit
/// routes, and debits that share the gateway's holds.
@Suite struct MeteringAPITests {
    static let allScopes = ["usage:write", "credits:consume", "credits:recharge", "users:read", "users:write"]

    /// A service account made by an admin, and a token of it with `scopes`.
    static func token(_ h: Harness, admin: Harness.Session, scopes: [String] = allScopes, service: String = "svc-\(UUID().uuidString.prefix(6))") async throws -> (token: String, id: Int) {
        let account = try await h.api("/api/admin/service-accounts", method: .POST, body: #"{"name":"\#(service)"}"#, as: admin)
        try #require(account.status == 201, "\(account.text)")
        let accountID = try #require(account.json?["id"] as? Int)
        let scopeList = scopes.map { "\"\($0)\"" }.joined(separator: ",")
        let issued = try await h.api("/api/admin/service-accounts/\(accountID)/tokens", method: .POST, body: #"{"scopes":[\#(scopeList)]}"#, as: admin)
        try #require(issued.status == 201, "\(issued.text)")
        return (try #require(issued.json?["token"] as? String), try #require(issued.json?["id"] as? Int))
    }

    /// A user known by an external id, made through `users/ensure`.
    static func ensure(_ h: Harness, token: String, externalID: String = "auth0|\(UInt32.random(in: 1...UInt32.max))") async throws -> (external: String, id: Int64) {
        let reply = try await h.request(
            "/api/v1/users/ensure", body: #"{"user_id":"\#(externalID)","email":"\#(UUID().uuidString.prefix(8))@svc.test","name":"Test"}"#, key: token)
        try #require(reply.status == 201, "\(reply.text)")
        let data = try #require(reply.json?["data"] as? [String: Any])
        return (externalID, try #require((data["id"] as? NSNumber)?.int64Value))
    }

    static func path(_ external: String) -> String { external.replacingOccurrences(of: "|", with: "%7C") }

    @Test func theSeedsExampleRequestsWorkAsWritten() async throws {
        try await Harness.run { h in
            let admin = try await h.signInAdmin()
            let service = try await Self.token(h, admin: admin)
            let user = try await Self.ensure(h, token: service.token, externalID: "auth0|test456")
            let again = try await h.request("/api/v1/users/ensure", body: #"{"user_id":"auth0|test456","email":"other@svc.test"}"#, key: service.token)
            #expect(again.status == 200)
            #expect((again.json?["data"] as? [String: Any])?["id"] as? Int == Int(user.id))
            let base = "/api/v1/users/auth0%7Ctest456"

            let recharge = try await h.request(
                base + "/credits/recharge", body: #"{"amount": 100.0, "description": "Manual recharge", "reference_id": "payment_123456"}"#,
                key: service.token)
            #expect(recharge.status == 200, "\(recharge.text)")
            #expect((recharge.json?["data"] as? [String: Any])?["balance_after"] as? Double == 100)

            let usage = try await h.request(
                base + "/usage",
                body: """
                    {"user_id": "auth0|test456", "session_id": "368ef8d4-5f6d-4129-9077-917e65ec33d5", "endpoint": "/api/chat/completion",
                     "event_type": "ai_text_generation", "credits_charged": 15.5, "cost_usd": 0.031, "tokens_used": 500,
                     "prompt_tokens": 300, "completion_tokens": 200, "model_name": "gpt-4", "provider": "openai"}
                    """, key: service.token)
            #expect(usage.status == 201, "\(usage.text)")
            #expect(usage.json?["success"] as? Bool == true)
            let record = try #require(usage.json?["data"] as? [String: Any])
            #expect(record["user_id"] as? String == "auth0|test456")
            #expect(record["credits_charged"] as? Double == 15.5)
            #expect(record["calculation_method"] as? String == "provided")
            #expect((record["metadata"] as? [String: Any])?["cost_usd"] as? Double == 0.031)
            let usageID = try #require(record["id"] as? Int)

            let consume = try await h.request(
                base + "/credits/consume", body: #"{"user_id": "auth0|test456", "amount": 1.0, "reason": "test", "usage_id": \#(usageID)}"#,
                key: service.token)
            #expect(consume.status == 200, "\(consume.text)")
            #expect(consume.json?["remaining_credits"] as? Double == 99)
            #expect(consume.json?["consumed_amount"] as? Double == 1)

            let balance = try await h.request(base + "/credits/balance", method: .GET, key: service.token)
            #expect(balance.json?["data"] as? Double == 99)
            #expect(try await h.gateway.store.balance(userID: user.id) == Credits(whole: 99))

            let history = try await h.request(base + "/usage?limit=5&offset=0", method: .GET, key: service.token)
            #expect(history.list.count == 1)
            let transactions = try await h.request(base + "/credits/transactions?limit=10&offset=0", method: .GET, key: service.token)
            #expect(transactions.list.map { $0["type"] as? String } == ["consume", "recharge"])
            #expect(transactions.list.first?["note"] as? String == "test; usage event \(usageID)")

            let stats = try await h.request(
                base + "/usage/stats?start_date=2025-01-01T00:00:00Z&end_date=2099-12-31T23:59:59Z", method: .GET, key: service.token)
            #expect(stats.status == 200, "\(stats.text)")
            let data = try #require(stats.json?["data"] as? [String: Any])
            #expect(data["total_records"] as? Int == 1)
            #expect(data["total_credits_charged"] as? Double == 15.5)
            #expect((data["by_event_type"] as? [String: Int]) == ["ai_text_generation": 1])
            #expect((data["by_model"] as? [String: Int]) == ["gpt-4": 1])
            #expect((data["by_provider"] as? [String: Int]) == ["openai": 1])

            // A user who is not there, and a body that names another user than the path.
            #expect(try await h.request("/api/v1/users/auth0%7Cnobody/credits/balance", method: .GET, key: service.token).status == 404)
            let mismatch = try await h.request(base + "/credits/consume", body: #"{"user_id":"auth0|other","amount":1}"#, key: service.token)
            #expect(mismatch.status == 400)
        }
    }

    @Test func statsIncludeTheGatewaysRequestsAndEventsArePricedFromTheManifest() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up")
            let admin = try await h.signInAdmin()
            let service = try await Self.token(h, admin: admin)
            let gatewayUser = try await h.user()
            for _ in 0..<2 { #expect(try await h.chat(gatewayUser.key).status == 200) }
            await h.settled()

            let priced = try await h.request(
                "/api/v1/users/\(gatewayUser.id)/usage",
                body: #"{"event_type":"agent_step","model_name":"\#(Harness.model)","prompt_tokens":1000000,"completion_tokens":500000}"#,
                key: service.token)
            #expect(priced.status == 201, "\(priced.text)")
            let record = try #require(priced.json?["data"] as? [String: Any])
            // 1 M input at 1 USD and 0.5 M output at 2 USD per million, 1 credit per USD.
            #expect(record["credits_charged"] as? Double == 2)
            #expect(record["calculation_method"] as? String == "manifest_price")
            #expect(record["tokens_used"] as? Int == 1_500_000)
            let unpriced = try await h.request("/api/v1/users/\(gatewayUser.id)/usage", body: #"{"event_type":"x","model_name":"unknown"}"#, key: service.token)
            #expect(unpriced.status == 400)
            #expect(unpriced.error?["param"] as? String == "model_name")

            let stats = try await h.request("/api/v1/users/\(gatewayUser.id)/usage/stats", method: .GET, key: service.token)
            let data = try #require(stats.json?["data"] as? [String: Any])
            #expect((data["by_event_type"] as? [String: Int]) == ["agent_step": 1, "gateway_request": 2])
            #expect((data["by_model"] as? [String: Int]) == [Harness.model: 3])
            #expect(data["total_records"] as? Int == 3)
            #expect((data["gateway"] as? [String: Any])?["requests"] as? Int == 2)
            let onlyGateway = try await h.request(
                "/api/v1/users/\(gatewayUser.id)/usage/stats?event_type=gateway_request", method: .GET, key: service.token)
            #expect((onlyGateway.json?["data"] as? [String: Any])?["total_records"] as? Int == 2)
        }
    }

    @Test func eachRouteRefusesATokenWithoutItsScopeAndRevokedOrExpiredTokens() async throws {
        try await Harness.run { h in
            let admin = try await h.signInAdmin()
            let all = try await Self.token(h, admin: admin)
            let user = try await Self.ensure(h, token: all.token)
            let base = "/api/v1/users/\(Self.path(user.external))"
            let routes: [(String, String, String?, String)] = [
                ("POST", base + "/usage", #"{"event_type":"x","credits_charged":1}"#, "usage:write"),
                ("POST", "/api/v1/usage/batch", #"{"records":[{"user_id":"\#(user.external)","event_type":"x","credits_charged":1}]}"#, "usage:write"),
                ("POST", base + "/credits/recharge", #"{"amount":5}"#, "credits:recharge"),
                ("POST", base + "/credits/consume", #"{"amount":1}"#, "credits:consume"),
                ("GET", base + "/credits/balance", nil, "users:read"),
                ("GET", base + "/credits/transactions", nil, "users:read"),
                ("GET", base + "/usage", nil, "users:read"),
                ("GET", base + "/usage/stats", nil, "users:read"),
                ("GET", base, nil, "users:read"),
                ("POST", "/api/v1/users/ensure", #"{"user_id":"ext-1","email":"e1@svc.test"}"#, "users:write"),
            ]
            for (method, path, body, scope) in routes {
                let others = Self.allScopes.filter { $0 != scope }
                let without = try await Self.token(h, admin: admin, scopes: others)
                let refused = try await h.request(path, method: .init(rawValue: method), body: body, key: without.token)
                #expect(refused.status == 403, "\(method) \(path) without \(scope)")
                #expect(refused.errorCode == "insufficient_scope")
                let with = try await Self.token(h, admin: admin, scopes: [scope])
                let allowed = try await h.request(path, method: .init(rawValue: method), body: body, key: with.token)
                #expect(allowed.status < 300, "\(method) \(path) with \(scope): \(allowed.text)")
            }

            // Revoked: refused at once, and listed as revoked. Another service's token still works.
            let other = try await Self.token(h, admin: admin)
            #expect(try await h.api("/api/admin/service-tokens/\(other.id)", method: .DELETE, as: admin).status == 204)
            let revoked = try await h.request(base + "/credits/balance", method: .GET, key: other.token)
            #expect(revoked.status == 401)
            #expect(revoked.errorCode == "invalid_service_token")
            #expect(try await h.request(base + "/credits/balance", method: .GET, key: all.token).status == 200)
            #expect(try await h.api("/api/admin/service-tokens/\(other.id)", method: .DELETE, as: admin).status == 404)

            // Expired, unknown, and a user's access token: all refused alike.
            let expired = ServiceTokenAuthenticatorProbe.make()
            let accountID = try #require(try await h.gateway.store.serviceAccounts().first?.id)
            _ = try await h.gateway.store.createServiceToken(NewServiceToken(
                serviceAccountID: accountID, name: "old", tokenHash: expired.hash, prefix: "sst-old", scopes: [.usersRead],
                expiresAt: Date().addingTimeInterval(-1)))
            for key in [expired.token, "sst-unknown", admin.access, "sk-sluice-unknown"] {
                let refused = try await h.request(base + "/credits/balance", method: .GET, key: key)
                #expect(refused.status == 401 && refused.errorCode == "invalid_service_token")
            }
            // A user's API key reads its own user (users:read) and nothing else, and moves no credits.
            let someone = try await h.user()
            #expect(try await h.request(base + "/credits/balance", method: .GET, key: someone.key).status == 404)
            #expect(try await h.request("/api/v1/users/\(someone.id)/credits/balance", method: .GET, key: someone.key).status == 200)
            let consume = try await h.request("/api/v1/users/\(someone.id)/credits/consume", body: #"{"amount":1}"#, key: someone.key)
            #expect(consume.status == 403 && consume.errorCode == "insufficient_scope")
            #expect(try await h.gateway.store.user(id: someone.id)?.balance == Credits(whole: 10))
            // The list shows last use and revocation, never the token.
            let tokens = try await h.api("/api/admin/service-accounts/\(accountID)/tokens", as: admin)
            #expect(tokens.list.first?["last_used_at"] is String)
            #expect(!tokens.text.contains(all.token))
        }
    }
}

/// Tokens made the way the server makes them, for a test that plants one in the store.
enum ServiceTokenAuthenticatorProbe {
    static func make() -> (token: String, hash: String) {
        let token = "sst-" + UUID().uuidString
        return (token, KeyAuthenticator.hash(token))
    }
}
