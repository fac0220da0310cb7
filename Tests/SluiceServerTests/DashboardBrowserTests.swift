import Foundation
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

/// The dashboard in a real browser: headless Chromium driven by selenium
/// (Tests/conformance/dashboard_browser.py) through a user's and an admin's work. A failing step
/// leaves its screenshot and page in `.build/dashboard-artifacts/`. With `SLUICE_SCREENSHOTS` set to
/// a directory, the run also saves the overview and pool pages there (the README's pictures).
@Suite struct DashboardBrowserTests {
    static let script = Harness.repoRoot.appendingPathComponent("Tests/conformance/dashboard_browser.py")

    /// Runs one scenario of the script against `h`; the JSON its last line reports.
    static func browse(_ h: Harness, scenario: String, environment extra: [String: String]) async throws -> [String: Any] {
        var environment = ProcessInfo.processInfo.environment.merging(extra) { _, new in new }
        if let screenshots = environment["SLUICE_SCREENSHOTS"] {
            environment["SCREENSHOTS"] = screenshots.hasPrefix("/") ? screenshots : Harness.repoRoot.appendingPathComponent(screenshots).path
        }
        let artifacts = Harness.repoRoot.appendingPathComponent(".build/dashboard-artifacts").path
        let errors = NSTemporaryDirectory() + "dashboard-browser-\(UUID().uuidString).err"
        defer { try? FileManager.default.removeItem(atPath: errors) }
        let (status, output) = try await runPythonClient(
            script, arguments: [h.baseURL, artifacts, scenario], environment: environment, errors: errors, limit: .seconds(300))
        let stderr = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        try #require(status == 0, "\(output)\n\(stderr.suffix(2000))\nscreenshots of the failing step: \(artifacts)")
        let last = try #require(output.split(separator: "\n").last)
        return try #require(try JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any])
    }

    @Test func aUserAndAnAdminDoTheirWorkInTheBrowser() async throws {
        // New users get credits from their plan here, so the key made in the browser can spend.
        try await Harness.run(configure: { $0.plans["free"]?.monthlyCredits = Credits(whole: 5) }) { h in
            try await h.account(secret: "up")
            // An account cooling for five minutes, for the admin to reset: it serves first and answers 429.
            let cooling = try await h.account(secret: "flaky", priority: 10)
            h.control.set(.fail(status: 429, retryAfter: "300"), for: "flaky")
            let seed = try await h.user()
            #expect(try await h.chat(seed.key).status == 200)
            #expect(h.gateway.pool.liveState(cooling).cooldowns.contains { $0.1.isCooling(at: Date()) })

            let admin = try await h.signInAdmin()
            let adminEmail = try #require(try await h.api("/api/auth/me", as: admin).json?["email"] as? String)
            let results = try await Self.browse(
                h, scenario: "work",
                environment: ["ADMIN_EMAIL": adminEmail, "ADMIN_PASSWORD": Harness.password, "COOLING_ACCOUNT": String(cooling)])

            // What the browser did, as the store has it.
            let victim = try #require(results["disabled_user"] as? String)
            #expect(try await h.gateway.store.user(email: victim)?.status == .disabled)
            #expect(!h.gateway.pool.liveState(cooling).cooldowns.contains { $0.1.isCooling(at: Date()) })
            let redeemerEmail = try #require(results["redeemed_by"] as? String)
            let redeemer = try #require(try await h.gateway.store.user(email: redeemerEmail))
            let recharges = try await h.gateway.store.ledger(userID: redeemer.id).filter { $0.kind == .recharge }
            #expect(recharges.map(\.amount) == [Credits(whole: 3)])
        }
    }

    @Test func buyingCreditsTakesTheBrowserToStripesCheckout() async throws {
        try await StripeHarness.run { stripe in
            let email = "buyer\(UUID().uuidString.prefix(6))@test.dev"
            _ = try await stripe.h.signUp(email)
            let results = try await Self.browse(stripe.h, scenario: "buy", environment: ["USER_EMAIL": email])
            let url = try #require(results["checkout_url"] as? String)
            // The Checkout Session the gateway made for the pack, at Stripe (the tests' fake).
            #expect(url.hasPrefix("https://checkout.stripe.test/c/pay/cs_"), "\(url)")
        }
    }
}
