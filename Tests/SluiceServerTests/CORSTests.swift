import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
@testable import SluiceServer
import Testing

/// Browsers on other origins: preflights and actual requests from allowed and disallowed
/// origins, streams and errors included, and nothing at all when CORS is off.
@Suite struct CORSTests {
    static let frontend = "https://chat.example.com"

    static func allow(_ origins: [String], credentials: Bool = false) -> (inout SluiceConfig) -> Void {
        { config in
            config.server.cors.allowedOrigins = origins
            config.server.cors.allowCredentials = credentials
        }
    }

    static func preflight(_ h: Harness, _ path: String, origin: String, headers: String = "authorization, content-type") async throws -> Harness.Reply {
        try await h.request(path, method: .OPTIONS, key: nil, headers: [
            ("origin", origin), ("access-control-request-method", "POST"), ("access-control-request-headers", headers),
        ])
    }

    @Test func anAllowedOriginsPreflightIsAnsweredOnV1AndAPI() async throws {
        try await Harness.run(configure: Self.allow([Self.frontend])) { h in
            let asked = "authorization, content-type, x-stainless-os, x-stainless-retry-count"
            for path in ["/v1/chat/completions", "/v1/messages", "/api/auth/login", "/v1beta/models/gemini-mock:streamGenerateContent"] {
                let reply = try await Self.preflight(h, path, origin: Self.frontend, headers: asked)
                #expect(reply.status == 204, "\(path)")
                #expect(reply.headers.first(name: "access-control-allow-origin") == Self.frontend)
                #expect(reply.headers.first(name: "access-control-allow-methods")?.contains("POST") == true)
                #expect(reply.headers.first(name: "access-control-allow-headers") == asked)
                #expect(reply.headers.first(name: "access-control-max-age") == "600")
                #expect(reply.headers[canonicalForm: "vary"].contains("Origin"))
                #expect(reply.headers.first(name: "access-control-allow-credentials") == nil)
            }
        }
    }

    @Test func aDisallowedOriginGetsNoCORSHeaders() async throws {
        try await Harness.run(configure: Self.allow([Self.frontend, "https://*.example.org"])) { h in
            try await h.account(secret: "up")
            let user = try await h.user()
            for origin in ["https://evil.example", "http://chat.example.com", "https://example.org", "https://a.example.org.evil.com", "null"] {
                let preflight = try await Self.preflight(h, "/v1/chat/completions", origin: origin)
                #expect(preflight.status == 405, "\(origin)")
                #expect(preflight.headers.first(name: "access-control-allow-origin") == nil, "\(origin)")
                let actual = try await h.request("/v1/chat/completions", body: Harness.chatBody(stream: false), key: user.key, headers: [("origin", origin)])
                #expect(actual.status == 200)
                #expect(actual.headers.first(name: "access-control-allow-origin") == nil, "\(origin)")
                #expect(actual.headers[canonicalForm: "vary"].contains("Origin"))
            }
            // A pattern covers its subdomains, in any case.
            let sub = try await Self.preflight(h, "/v1/chat/completions", origin: "https://App.Example.org")
            #expect(sub.headers.first(name: "access-control-allow-origin") == "https://App.Example.org")
        }
    }

    @Test func actualRequestsStreamsAndErrorsCarryTheHeaders() async throws {
        try await Harness.run(configure: Self.allow([Self.frontend], credentials: true)) { h in
            try await h.account(secret: "up")
            let user = try await h.user()
            let origin = [("origin", Self.frontend)]
            let whole = try await h.request("/v1/chat/completions", body: Harness.chatBody(stream: false), key: user.key, headers: origin)
            #expect(whole.status == 200)
            #expect(whole.headers.first(name: "access-control-allow-origin") == Self.frontend)
            #expect(whole.headers.first(name: "access-control-allow-credentials") == "true")
            #expect(whole.headers.first(name: "access-control-expose-headers")?.contains("x-request-id") == true)

            var request = HTTPClientRequest(url: h.baseURL + "/v1/chat/completions")
            request.method = .POST
            request.headers.add(name: "authorization", value: "Bearer \(user.key)")
            request.headers.add(name: "origin", value: Self.frontend)
            request.body = .bytes(ByteBuffer(string: Harness.chatBody(stream: true)))
            let stream = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
            #expect(stream.status == .ok)
            #expect(stream.headers.first(name: "access-control-allow-origin") == Self.frontend)
            let events = String(buffer: try await stream.body.collect(upTo: 1 << 20))
            #expect(events.contains("data: [DONE]"))

            // Errors a page must be able to read: a bad key, a bad body, Anthropic's route, and the API's.
            let refused = try await h.request("/v1/chat/completions", body: Harness.chatBody(stream: false), key: "sk-nope", headers: origin)
            #expect(refused.status == 401 && refused.headers.first(name: "access-control-allow-origin") == Self.frontend)
            let malformed = try await h.request("/v1/chat/completions", body: "{", key: user.key, headers: origin)
            #expect(malformed.status == 400 && malformed.headers.first(name: "access-control-allow-origin") == Self.frontend)
            let messages = try await h.request("/v1/messages", body: "{}", key: "sk-nope", headers: origin)
            #expect(messages.status == 401 && messages.headers.first(name: "access-control-allow-origin") == Self.frontend)
            let login = try await h.request("/api/auth/login", body: #"{"email":"x@y.z","password":"wrong-password"}"#, key: nil, headers: origin)
            #expect(login.status == 401 && login.headers.first(name: "access-control-allow-origin") == Self.frontend)
            // Outside /v1 and /api, nothing.
            let health = try await h.request("/health/live", method: .GET, key: nil, headers: origin)
            #expect(health.headers.first(name: "access-control-allow-origin") == nil)
        }
    }

    @Test func offByDefault() async throws {
        try await Harness.run { h in
            let preflight = try await Self.preflight(h, "/v1/chat/completions", origin: Self.frontend)
            #expect(preflight.status == 405)
            #expect(preflight.headers.first(name: "access-control-allow-origin") == nil)
            let actual = try await h.request("/v1/models", method: .GET, key: "sk-nope", headers: [("origin", Self.frontend)])
            #expect(actual.headers.first(name: "access-control-allow-origin") == nil)
        }
    }

    @Test func originPatternsAreCheckedAtStartup() throws {
        var config = SluiceConfig()
        try ConfigLoader.apply(
            yaml: "server:\n  cors:\n    allowed_origins: [\"https://chat.example.com\", \"https://*.example.org\", \"http://localhost:3000\"]\n    max_age_seconds: 60\n",
            source: "t", to: &config)
        #expect(config.server.cors.allowedOrigins == ["https://chat.example.com", "https://*.example.org", "http://localhost:3000"])
        for bad in ["chat.example.com", "https://chat.example.com/", "https://*", "https://a.*.example.com", "ftp://x.example"] {
            var copy = SluiceConfig()
            #expect(throws: ConfigLoader.Error.self, "\(bad)") {
                try ConfigLoader.apply(yaml: "server:\n  cors:\n    allowed_origins: [\"\(bad)\"]\n", source: "t", to: &copy)
            }
        }
        var env = SluiceConfig()
        try ConfigLoader.apply(environment: ["SLUICE_SERVER_CORS_ALLOWED_ORIGINS": "*"], to: &env)
        #expect(CORSPolicy(env.server.cors)?.allows("https://anything.example") == true)
        #expect(CORSPolicy(SluiceConfig().server.cors) == nil)
    }
}
