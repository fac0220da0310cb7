import Foundation
import SluiceServer
import Testing

/// `GET /metrics`: per-account requests, errors by class, cooldowns and time cooling.
@Suite struct MetricsTests {
    /// The value of the sample `series` (name and labels, as written), or nil when absent.
    func sample(_ text: String, _ series: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test func accountFiguresAreExposedInPrometheusFormat() async throws {
        try await Harness.run { h in
            let first = try await h.account(secret: "sk-alpha", priority: 10)
            let second = try await h.account(secret: "sk-beta", priority: 0)
            h.control.set(.fail(status: 429, retryAfter: "30"), for: "sk-alpha")
            h.control.reportQuota(remaining: 25, limit: 100, for: "sk-beta")
            let user = try await h.user()
            #expect(try await h.chat(user.key).status == 200)
            let reply = try await h.request("/metrics", method: .GET, key: nil)
            #expect(reply.status == 200)
            #expect(reply.headers.first(name: "content-type")?.hasPrefix("text/plain; version=0.0.4") == true)
            let text = reply.text
            let a = #"{account="\#(first)",provider="mock""#, b = #"{account="\#(second)",provider="mock""#
            #expect(sample(text, "sluice_account_requests_total\(a)}") == 1)
            #expect(sample(text, "sluice_account_errors_total\(a),class=\"rate_limited\"}") == 1)
            #expect(sample(text, "sluice_account_errors_total\(a),class=\"transient\"}") == 0)
            #expect(sample(text, "sluice_account_cooldowns_total\(a)}") == 1)
            // Retry-After 30 s, plus up to 0.25 s of jitter.
            let cooled = try #require(sample(text, "sluice_account_cooldown_seconds_total\(a)}"))
            #expect(cooled >= 29 && cooled <= 31)
            #expect(sample(text, "sluice_account_cooling\(a)}") == 1)
            #expect(sample(text, "sluice_account_requests_total\(b)}") == 1)
            #expect(sample(text, "sluice_account_errors_total\(b),class=\"rate_limited\"}") == 0)
            #expect(sample(text, "sluice_account_cooling\(b)}") == 0)
            #expect(sample(text, "sluice_account_in_flight\(b)}") == 0)
            #expect(sample(text, "sluice_account_headroom_ratio\(b)}") == 0.25)
            #expect(text.contains("# TYPE sluice_account_requests_total counter"))
            #expect(!text.contains("sk-alpha") && !text.contains("sk-beta"), "secrets never reach /metrics")
        }
    }

    /// The gateway's own figures: requests holding credits now, and charges not yet written.
    @Test func runningRequestsAndTheSettlementBacklogAreExposed() async throws {
        try await Harness.run { h in
            let user = try await h.user()
            var reader = try await h.heldStream(user.key)
            let during = try await h.request("/metrics", method: .GET, key: nil).text
            #expect(sample(during, "sluice_requests_running") == 1)
            #expect(sample(during, "sluice_settlement_backlog") == 0)
            h.control.releaseGate()
            _ = try await reader.rest()
            await h.settled()
            let after = try await h.request("/metrics", method: .GET, key: nil).text
            #expect(sample(after, "sluice_requests_running") == 0)
        }
    }

    @Test func aConfiguredTokenGuardsTheRouteAndItCanBeTurnedOff() async throws {
        try await Harness.run(configure: { $0.metrics.bearerToken = "scrape-token-0123456789" }) { h in
            let missing = try await h.request("/metrics", method: .GET, key: nil)
            #expect(missing.status == 401 && missing.errorCode == "invalid_metrics_token")
            #expect(try await h.request("/metrics", method: .GET, key: "wrong").status == 401)
            #expect(try await h.request("/metrics", method: .GET, key: "scrape-token-0123456789").status == 200)
        }
        try await Harness.run(configure: { $0.metrics.enabled = false }) { h in
            let reply = try await h.request("/metrics", method: .GET, key: nil)
            #expect(reply.status == 404)
        }
    }
}
