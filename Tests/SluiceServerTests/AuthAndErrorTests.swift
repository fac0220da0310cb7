import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

@Suite struct AuthAndErrorTests {
    @Test func unknownRevokedAndExpiredKeysGetTheSame401() async throws {
        try await Harness.run { h in
            try await h.account(secret: "a")
            let user = try await h.user()
            let revoked = try await APIKeyIssuer.issue(store: h.gateway.store, userID: user.id, name: "r")
            _ = try await h.gateway.store.revokeAPIKey(id: revoked.id, userID: nil)
            let expired = try await APIKeyIssuerForTests.issue(h, userID: user.id, expiresAt: Date().addingTimeInterval(-1))
            let replies = [
                try await h.chat("sk-sluice-unknown"), try await h.chat(revoked.key), try await h.chat(expired),
            ]
            #expect(replies.map(\.status) == [401, 401, 401])
            #expect(Set(replies.map(\.body)).count == 1, "the three bodies must be identical")
            #expect(replies[0].error?["code"] as? String == "invalid_api_key")
            #expect(try await h.chat("").status == 401)
            #expect(try await h.request("/v1/models", method: .GET, key: nil).status == 401)
            try await OpenAISchema.expectValid(replies.map { ("ErrorResponse", $0.body) })
        }
    }

    /// The scheme is case-insensitive and blanks around the key are not part of it (RFC 9110 §11.1).
    @Test func theAuthorizationHeaderIsReadAsHTTPDefinesIt() async throws {
        try await Harness.run { h in
            try await h.account(secret: "a")
            let key = try await h.user().key
            var statuses: [Int] = []
            for header in ["Bearer \(key)", "bearer \(key)", "BEARER \(key)", "Bearer  \t\(key) \t", "Bearer \(key)x", "Basic \(key)", "Bearer ", "Bearer"] {
                statuses.append(try await h.request("/v1/models", method: .GET, key: nil, headers: [("authorization", header)]).status)
            }
            #expect(statuses == [200, 200, 200, 200, 401, 401, 401, 401])
        }
    }

    @Test func disabledUserGets403() async throws {
        try await Harness.run { h in
            try await h.account(secret: "a")
            let user = try await h.user()
            try await h.gateway.store.setUserStatus(id: user.id, .disabled)
            let reply = try await h.chat(user.key)
            #expect(reply.status == 403)
            #expect(reply.error?["type"] as? String == "permission_error")
        }
    }

    @Test(arguments: [
        ("{not json", 400, nil),
        (#"{"messages":[{"role":"user","content":"x"}]}"#, 400, "model"),
        (#"{"model":"gpt-test"}"#, 400, "messages"),
        (#"{"model":"gpt-test","messages":[]}"#, 400, "messages"),
        (#"{"model":"no-such-model","messages":[{"role":"user","content":"x"}]}"#, 404, "model"),
    ] as [(String, Int, String?)])
    func badInputIsAnsweredWithTheParameterNamed(body: String, status: Int, param: String?) async throws {
        try await Harness.run { h in
            try await h.account(secret: "a")
            let user = try await h.user()
            let reply = try await h.request("/v1/chat/completions", body: body, key: user.key)
            #expect(reply.status == status)
            #expect(reply.error?["param"] as? String == param)
            #expect(reply.headers.first(name: "x-request-id") != nil)
            #expect(reply.headers.first(name: "x-should-retry") == "false")
            #expect(h.control.requests.isEmpty)
            try await OpenAISchema.expectValid([("ErrorResponse", reply.body)])
        }
    }

    @Test func bodyOverTheConfiguredLimitIsRefused() async throws {
        try await Harness.run(configure: { $0.server.maxBodyBytes = 2048 }) { h in
            try await h.account(secret: "a")
            let user = try await h.user()
            let big = String(repeating: "x", count: 4096)
            let reply = try await h.request("/v1/chat/completions", body: Harness.chatBody(stream: false, extra: #","pad":"\#(big)""#), key: user.key)
            #expect(reply.status == 400)
            #expect(reply.error?["code"] as? String == "request_too_large")
            #expect(h.control.requests.isEmpty)
        }
    }

    @Test func everyResponseCarriesARequestIDAndUnknownPathsAreOpenAIErrors() async throws {
        try await Harness.run { h in
            let missing = try await h.request("/v1/nope", method: .GET, key: nil)
            #expect(missing.status == 404)
            #expect(missing.headers.first(name: "x-request-id") != nil)
            try await OpenAISchema.expectValid([("ErrorResponse", missing.body)])
            let health = try await h.request("/health", method: .GET, key: nil)
            #expect(health.headers.first(name: "x-request-id") != nil)
        }
    }

    @Test func aKnownPathAskedWithAnotherMethodIs405WithAllow() async throws {
        try await Harness.run { h in
            for (method, path, allow) in [
                (NIOHTTP1.HTTPMethod.GET, "/v1/chat/completions", "POST"), (.OPTIONS, "/v1/chat/completions", "POST"),
                (.DELETE, "/v1/models", "GET"), (.PUT, "/api/api-keys/7", "DELETE"),
            ] {
                let reply = try await h.request(path, method: method, key: nil)
                #expect(reply.status == 405, "\(method) \(path): \(reply.text)")
                #expect(reply.headers.first(name: "allow") == allow, "\(method) \(path)")
                #expect(reply.headers.first(name: "x-request-id") != nil)
                try await OpenAISchema.expectValid([("ErrorResponse", reply.body)])
            }
            // In the route's own shape on the native APIs.
            let messages = try await h.request("/v1/messages", method: .GET, key: nil)
            #expect(messages.status == 405 && messages.json?["type"] as? String == "error")
            let gemini = try await h.request("/v1beta/models/gemini-mock:generateContent", method: .GET, key: nil)
            #expect(gemini.status == 405 && (gemini.error?["code"] as? Int) == 405)
            // A path no route has is still 404, and so is a missing thing on a known path.
            #expect(try await h.request("/v1/chat/nope", method: .GET, key: nil).status == 404)
        }
    }

    @Test func upstreamGarbageIsAnsweredCleanly() async throws {
        // A "provider" that is not one: the mock's model list endpoint answers a chat request with
        // 404, and an account whose base URL refuses connections.
        try await Harness.run { h in
            _ = try await h.gateway.store.addAccount(
                provider: "mock", kind: .apiKey, baseURL: "http://127.0.0.1:1/v1", models: [], priority: 5, weight: 1, ownerUserID: nil,
                secret: try h.gateway.secrets.seal("refused"))
            _ = try await h.gateway.store.addAccount(
                provider: "mock", kind: .apiKey, baseURL: h.mockBaseURL + "/models/x", models: [], priority: 4, weight: 1, ownerUserID: nil,
                secret: try h.gateway.secrets.seal("wrong-path"))
            try await h.gateway.pool.reload()
            let user = try await h.user()
            let reply = try await h.chat(user.key, stream: true)
            #expect(reply.status == 502)
            #expect(reply.error?["code"] as? String == "upstream_error")
        }
    }
}
