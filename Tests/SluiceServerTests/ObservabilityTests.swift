import Foundation
import Logging
import SluiceCore
import SluiceServer
import Testing

/// Request metrics on /metrics and one access-log line per request, asserted from real requests.
@Suite struct ObservabilityTests {
    /// The value of the sample `name{labels}` in a Prometheus text page, labels in any order.
    static func sample(_ page: String, _ name: String, _ labels: [String: String] = [:]) -> Double? {
        for line in page.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: " ")
            guard parts.count >= 2 else { continue }
            let series = String(parts[0])
            let metric = series.split(separator: "{").first.map(String.init) ?? series
            guard metric == name else { continue }
            let labelText = series.contains("{") ? String(series.split(separator: "{", maxSplits: 1)[1].dropLast()) : ""
            let found = Dictionary(labelText.split(separator: ",").compactMap { pair -> (String, String)? in
                let kv = pair.split(separator: "=", maxSplits: 1)
                return kv.count == 2 ? (String(kv[0]), String(kv[1]).trimmingCharacters(in: CharacterSet(charactersIn: "\""))) : nil
            }, uniquingKeysWith: { a, _ in a })
            if labels.allSatisfy({ found[$0.key] == $0.value }) { return Double(parts[1]) }
        }
        return nil
    }

    @Test func eachRequestIsCountedByRouteTemplateWithUpstreamTokensAndCredits() async throws {
        // A key entry lives long enough for the second request to hit it, however loaded the machine.
        try await Harness.run(configure: { $0.auth.keyCacheTTLMillis = 60_000 }) { h in
            try await h.account(secret: "up")
            let user = try await h.user()
            #expect(try await h.chat(user.key).status == 200)
            #expect(try await h.streamEvents(user.key).0.status == .ok)
            #expect(try await h.request("/v1/chat/completions", body: "not json", key: user.key).status == 400)
            let admin = try await h.signInAdmin()
            #expect(try await h.api("/api/admin/users/\(user.id)", as: admin).status == 200)
            #expect(try await h.api("/api/admin/users/999999", as: admin).status == 404)
            #expect(try await h.request("/no/such/\(UUID())", method: .GET, key: nil).status == 404)
            await h.settled()

            let page = try await h.request("/metrics", method: .GET, key: nil).text
            let chat = ["route": "/v1/chat/completions", "method": "POST"]
            #expect(Self.sample(page, "http_requests_total", chat.merging(["status": "200"]) { $1 }) == 2)
            #expect(Self.sample(page, "http_requests_total", chat.merging(["status": "400"]) { $1 }) == 1)
            #expect(Self.sample(page, "http_request_duration_seconds_count", chat) == 3)
            // Templates, not paths: two users' pages are one series; an unrouted path is "unmatched".
            let show = ["route": "/api/admin/users/{id}", "method": "GET"]
            #expect(Self.sample(page, "http_requests_total", show.merging(["status": "200"]) { $1 }) == 1)
            #expect(Self.sample(page, "http_requests_total", show.merging(["status": "404"]) { $1 }) == 1)
            #expect(Self.sample(page, "http_requests_total", ["route": "unmatched", "status": "404"]) == 1)
            #expect(!page.contains("999999") && !page.contains("/no/such"))

            #expect(Self.sample(page, "sluice_upstream_duration_seconds_count", ["provider": "mock"]) == 2)
            #expect(Self.sample(page, "sluice_upstream_time_to_first_byte_seconds_count", ["provider": "mock"]) == 2)
            let logs = try await h.gateway.store.usageLogs(userID: user.id)
            let input = logs.reduce(0) { $0 + $1.usage.promptTokens }
            let output = logs.reduce(0) { $0 + $1.usage.completionTokens }
            #expect(Self.sample(page, "sluice_tokens_total", ["direction": "input", "model": Harness.model]) == Double(input))
            #expect(Self.sample(page, "sluice_tokens_total", ["direction": "output", "model": Harness.model]) == Double(output))
            let charged = logs.reduce(Credits.zero) { $0 + $1.charged }
            let reported = try #require(Self.sample(page, "sluice_credits_charged_total", ["model": Harness.model]))
            #expect(abs(reported - Double(charged.micros) / 1_000_000) < 1e-9)
            #expect(try #require(Self.sample(page, "sluice_key_cache_hits_total")) >= 1)
            #expect(try #require(Self.sample(page, "sluice_key_cache_misses_total")) >= 1)
            #expect(Self.sample(page, "sluice_settlement_backlog") == 0)
        }
    }

    @Test func oneAccessLineARequestWithItsFieldsAndNoSecret() async throws {
        let logs = LogCapture(level: .info)
        try await Harness.run(configure: { $0.logging.level = "info" }, logs: logs) { h in
            try await h.account(secret: "sk-upstream-secret")
            let user = try await h.user()
            let reply = try await h.chat(user.key)
            #expect(reply.status == 200)
            let requestID = try #require(reply.headers.first(name: "x-request-id"))
            await h.settled()
            try await eventually("the line was written") { logs.text.contains(requestID) }
            let line = try #require(logs.text.split(separator: "\n").first { $0.contains(requestID) && $0.contains("request") })
            let fields: [(String, String?)] = [
                ("route", "/v1/chat/completions"), ("status", "200"), ("user_id", "\(user.id)"), ("key_prefix", String(user.key.prefix(14))),
                ("model", Harness.model), ("provider", "mock"), ("end_reason", "completed"), ("method", "POST"), ("latency_ms", nil),
                ("ttfb_ms", nil), ("prompt_tokens", nil), ("completion_tokens", nil), ("cost", nil), ("account_id", nil),
            ]
            for (name, value) in fields {
                // LogCapture writes metadata as a dictionary: `"name": value`.
                let expected = "\"\(name)\": " + (value ?? "")
                #expect(line.contains(expected), "the line lacks \(expected): \(line)")
            }
            // Refused before any upstream: still one line, with what is known.
            let refused = try await h.request("/v1/chat/completions", body: Harness.chatBody(stream: false), key: "sk-sluice-wrong")
            #expect(refused.status == 401)
            let refusedID = try #require(refused.headers.first(name: "x-request-id"))
            try await eventually("the refusal was logged") { logs.text.contains(refusedID) }
            // No key, upstream secret or bearer header ever reaches the log.
            for secret in [user.key, "sk-upstream-secret", "sk-sluice-wrong", "Bearer"] { #expect(!logs.text.contains(secret), "\(secret) was logged") }
        }
    }

    @Test func theAccessLogCanBeTurnedOff() async throws {
        let logs = LogCapture(level: .info)
        try await Harness.run(configure: { $0.logging.level = "info"; $0.logging.accessLog = false }, logs: logs) { h in
            try await h.account(secret: "up")
            let user = try await h.user()
            let reply = try await h.chat(user.key)
            let requestID = try #require(reply.headers.first(name: "x-request-id"))
            await h.settled()
            #expect(!logs.text.contains(requestID))
        }
    }
}
