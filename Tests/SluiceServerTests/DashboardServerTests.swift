import Foundation
import NIOHTTP1
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

/// The dashboard as the server serves it: its pages and their headers, the admin page's guard,
/// the browser's cookie sign-in and its CSRF check, and the admin routes its pages use.
@Suite struct DashboardServerTests {
    /// The cookies of a browser sign-in, as a browser would send them back.
    struct Browser {
        var cookies: [String: String] = [:]

        var header: (String, String) { ("cookie", cookies.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "; ")) }
        var csrf: (String, String) { ("x-csrf-token", cookies["sluice_csrf"] ?? "") }

        /// Takes the reply's Set-Cookie headers; an empty value with Max-Age=0 removes the cookie.
        mutating func take(_ reply: Harness.Reply) {
            for line in reply.headers["set-cookie"] {
                let pair = line.split(separator: ";")[0].split(separator: "=", maxSplits: 1).map(String.init)
                guard pair.count == 2 else { continue }
                if pair[1].isEmpty { cookies[pair[0]] = nil } else { cookies[pair[0]] = pair[1] }
            }
        }
    }

    static func signIn(_ h: Harness, email: String) async throws -> (Browser, Harness.Reply) {
        var browser = Browser()
        let reply = try await h.request(
            "/api/auth/browser/login", body: #"{"email":"\#(email)","password":"\#(Harness.password)"}"#, key: nil,
            headers: [("sec-fetch-site", "same-origin")])
        browser.take(reply)
        return (browser, reply)
    }

    @Test func pagesAreServedWithAStrictPolicyAndNothingOutsideTheDashboard() async throws {
        try await Harness.run { h in
            let index = try await h.request("/", method: .GET, key: nil)
            #expect(index.status == 200 && index.headers.first(name: "content-type")?.hasPrefix("text/html") == true)
            let policy = try #require(index.headers.first(name: "content-security-policy"))
            #expect(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'") && !policy.contains("unsafe-inline"))
            #expect(index.headers.first(name: "x-content-type-options") == "nosniff")
            #expect(index.text.contains("/assets/user.js"))
            let css = try await h.request("/assets/app.css", method: .GET, key: nil)
            #expect(css.status == 200 && css.headers.first(name: "content-type")?.hasPrefix("text/css") == true)
            for path in ["/assets/../Package.swift", "/assets/%2e%2e/README.md", "/assets/nope.js", "/assets/"] {
                #expect(try await h.request(path, method: .GET, key: nil).status == 404, "\(path)")
            }
        }
    }

    @Test func theAdminPageIsRefusedByTheServerToAnyoneButAnAdmin() async throws {
        try await Harness.run { h in
            // Sent to sign in (the client follows the 303 to the user app's page).
            let anonymous = try await h.request("/admin", method: .GET, key: nil)
            #expect(anonymous.status == 200 && anonymous.text.contains("/assets/user.js") && !anonymous.text.contains("/assets/admin.js"))
            let email = "plain\(UUID().uuidString.prefix(6))@test.dev"
            _ = try await h.signUp(email)
            let (user, _) = try await Self.signIn(h, email: email)
            let refused = try await h.request("/admin", method: .GET, key: nil, headers: [user.header])
            #expect(refused.status == 403 && !refused.text.contains("/assets/admin.js"))
            let admin = try await h.signInAdmin()
            let adminEmail = try #require(try await h.api("/api/auth/me", as: admin).json?["email"] as? String)
            let (browser, _) = try await Self.signIn(h, email: adminEmail)
            let page = try await h.request("/admin", method: .GET, key: nil, headers: [browser.header])
            #expect(page.status == 200 && page.text.contains("/assets/admin.js"))
            // The admin API refuses a plain user's cookie as it refuses their bearer token.
            #expect(try await h.request("/api/admin/users", method: .GET, key: nil, headers: [user.header]).status == 403)
        }
    }

    @Test func theBrowserSignsInWithCookiesAndEveryChangeNeedsTheCSRFToken() async throws {
        try await Harness.run { h in
            let email = "b\(UUID().uuidString.prefix(6))@test.dev"
            _ = try await h.signUp(email)
            var (browser, login) = try await Self.signIn(h, email: email)
            #expect(login.status == 200)
            let setCookies = login.headers["set-cookie"]
            for name in ["sluice_access", "sluice_refresh"] {
                let line = try #require(setCookies.first { $0.hasPrefix(name + "=") })
                #expect(line.contains("HttpOnly") && line.contains("SameSite=Strict"), "\(line)")
            }
            let csrfLine = try #require(setCookies.first { $0.hasPrefix("sluice_csrf=") })
            #expect(!csrfLine.contains("HttpOnly"))
            #expect(login.json?["csrf_token"] as? String == browser.cookies["sluice_csrf"])
            // No token in the body a script could keep.
            #expect(login.json?["access_token"] == nil && !login.text.contains(browser.cookies["sluice_access"] ?? "-"))

            #expect(try await h.request("/api/auth/me", method: .GET, key: nil, headers: [browser.header]).json?["email"] as? String == email)
            let forged = try await h.request("/api/api-keys", body: #"{"name":"x"}"#, key: nil, headers: [browser.header])
            #expect(forged.status == 403 && forged.errorCode == "csrf_failed")
            let wrong = try await h.request("/api/api-keys", body: #"{"name":"x"}"#, key: nil, headers: [browser.header, ("x-csrf-token", "nope")])
            #expect(wrong.status == 403)
            let crossSite = try await h.request(
                "/api/api-keys", body: #"{"name":"x"}"#, key: nil, headers: [browser.header, browser.csrf, ("sec-fetch-site", "cross-site")])
            #expect(crossSite.status == 403)
            #expect(try await h.request("/api/api-keys", body: #"{"name":"x"}"#, key: nil, headers: [browser.header, browser.csrf]).status == 201)
            // A cross-site page cannot sign a visitor in either.
            let loginElsewhere = try await h.request(
                "/api/auth/browser/login", body: #"{"email":"\#(email)","password":"\#(Harness.password)"}"#, key: nil,
                headers: [("sec-fetch-site", "cross-site")])
            #expect(loginElsewhere.status == 403 && loginElsewhere.headers["set-cookie"].isEmpty)

            // Refresh rotates the cookies; the spent refresh cookie is refused after.
            let old = browser
            #expect(try await h.request("/api/auth/browser/refresh", key: nil, headers: [browser.header]).status == 403)
            let refreshed = try await h.request("/api/auth/browser/refresh", key: nil, headers: [browser.header, browser.csrf])
            #expect(refreshed.status == 200)
            browser.take(refreshed)
            #expect(browser.cookies["sluice_refresh"] != old.cookies["sluice_refresh"])

            // Sign-out ends the sign-in on the server: the old cookies are refused, not only forgotten.
            let out = try await h.request("/api/auth/browser/logout", key: nil, headers: [browser.header, browser.csrf])
            #expect(out.status == 204 && out.headers["set-cookie"].contains { $0.hasPrefix("sluice_access=;") })
            #expect(try await h.request("/api/auth/me", method: .GET, key: nil, headers: [browser.header]).status == 401)
            #expect(try await h.request("/api/auth/browser/refresh", key: nil, headers: [browser.header, browser.csrf]).status == 401)
            // Programs keep their bearer tokens, with no CSRF token to send.
            let program = try await h.signIn(email)
            #expect(try await h.api("/api/api-keys", method: .POST, body: #"{"name":"y"}"#, as: program).status == 201)
        }
    }

    @Test func aSignedInUserChangesTheirPasswordAndEveryOtherSignInEnds() async throws {
        try await Harness.run { h in
            let email = "pw\(UUID().uuidString.prefix(6))@test.dev"
            let first = try await h.signUp(email)
            let other = try await h.signIn(email)
            let wrong = try await h.api("/api/auth/password", method: .POST, body: #"{"current_password":"not it","new_password":"brand new pass"}"#, as: first)
            #expect(wrong.status == 403 && wrong.error?["param"] as? String == "current_password")
            let short = try await h.api("/api/auth/password", method: .POST, body: #"{"current_password":"\#(Harness.password)","new_password":"short"}"#, as: first)
            #expect(short.status == 400)
            let changed = try await h.api(
                "/api/auth/password", method: .POST, body: #"{"current_password":"\#(Harness.password)","new_password":"brand new pass"}"#, as: first)
            #expect(changed.status == 204, "\(changed.text)")
            // This sign-in stays; the other one ended; the old password no longer signs in.
            #expect(try await h.api("/api/auth/me", as: first).status == 200)
            #expect(try await h.api("/api/auth/me", as: other).status == 401)
            let old = try await h.request("/api/auth/login", body: #"{"email":"\#(email)","password":"\#(Harness.password)"}"#, key: nil)
            #expect(old.status == 401)
            #expect(try await h.signIn(email, password: "brand new pass").userID == first.userID)
        }
    }

    @Test func adminsListAndDisableCodesAndSeeTheSystemsHealth() async throws {
        try await Harness.run { h in
            let admin = try await h.signInAdmin()
            let made = try await h.api("/api/admin/redemption-codes", method: .POST, body: #"{"value":2,"max_uses":5}"#, as: admin)
            let code = try #require((made.json?["codes"] as? [String])?.first)
            let listed = try await h.api("/api/admin/redemption-codes", as: admin).list
            let id = try #require(listed.first?["id"] as? Int)
            #expect(listed.first?["used_count"] as? Int == 0 && listed.first?["disabled"] as? Bool == false && !listed.first!.description.contains(code))
            #expect(try await h.api("/api/admin/redemption-codes/\(id)", method: .PATCH, body: #"{"disabled":true}"#, as: admin).json?["disabled"] as? Bool == true)
            let user = try await h.signUp()
            #expect(try await h.api("/api/credits/redeem", method: .POST, body: #"{"code":"\#(code)"}"#, as: user).status == 404)
            _ = try await h.api("/api/admin/redemption-codes/\(id)", method: .PATCH, body: #"{"disabled":false}"#, as: admin)
            #expect(try await h.api("/api/credits/redeem", method: .POST, body: #"{"code":"\#(code)"}"#, as: user).status == 200)
            #expect(try await h.api("/api/admin/redemption-codes", as: admin).list.first?["used_count"] as? Int == 1)
            #expect(try await h.api("/api/admin/redemption-codes", as: user).status == 403)

            try await h.account(secret: "a")
            let health = try await h.api("/api/admin/health", as: admin)
            #expect(health.json?["store"] as? String == "ok")
            #expect(health.json?["settlement_backlog"] as? Int == 0 && (health.json?["settlement_capacity"] as? Int ?? 0) > 0)
            #expect((health.json?["accounts"] as? [String: Any])?["total"] as? Int == 1)
            #expect(try await h.api("/api/admin/health", as: user).status == 403)
        }
    }
}
