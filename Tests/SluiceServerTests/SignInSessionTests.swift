import Foundation
import NIOHTTP1
import SluiceCore
import SluiceServer
import Testing

/// A user's list of sign-ins: device, address and last use; ending one, or all of them, is
/// refused at once, on every instance.
@Suite struct SignInSessionTests {
    static func signIn(_ h: Harness, _ email: String, device: String) async throws -> Harness.Session {
        let reply = try await h.request(
            "/api/auth/login", body: #"{"email":"\#(email)","password":"\#(Harness.password)"}"#, key: nil, headers: [("user-agent", device)])
        try #require(reply.status == 200)
        let json = try #require(reply.json)
        let user = try #require(json["user"] as? [String: Any])
        return Harness.Session(
            userID: try #require((user["id"] as? NSNumber)?.int64Value), access: try #require(json["access_token"] as? String),
            refresh: try #require(json["refresh_token"] as? String))
    }

    @Test func aUserSeesTheirSignInsAndEndsOne() async throws {
        try await Harness.run { h in
            let email = "many@test.dev"
            _ = try await h.signUp(email)
            let phone = try await Self.signIn(h, email, device: "Phone/1.0")
            let laptop = try await Self.signIn(h, email, device: "Laptop/2.0 <script>")
            let listed = try await h.api("/api/auth/sessions", as: laptop)
            #expect(listed.status == 200)
            let devices = listed.list.compactMap { $0["device"] as? String }
            #expect(Set(devices).isSuperset(of: ["Phone/1.0", "Laptop/2.0 <script>"]))
            let current = listed.list.filter { $0["current"] as? Bool == true }
            #expect(current.count == 1 && current.first?["device"] as? String == "Laptop/2.0 <script>")
            #expect(listed.list.allSatisfy { $0["address"] as? String == "127.0.0.1" && $0["last_used_at"] is String })
            let phoneID = try #require(listed.list.first { $0["device"] as? String == "Phone/1.0" }?["id"] as? String)

            // Another user cannot see or end them.
            let other = try await h.signUp()
            #expect(try await h.api("/api/auth/sessions", as: other).list.allSatisfy { $0["device"] as? String != "Phone/1.0" })
            #expect(try await h.api("/api/auth/sessions/\(phoneID)", method: .DELETE, as: other).status == 404)
            #expect(try await h.api("/api/auth/me", as: phone).status == 200)

            // Ended: the phone's access token and refresh token are refused at once; the laptop goes on.
            #expect(try await h.api("/api/auth/sessions/\(phoneID)", method: .DELETE, as: laptop).status == 204)
            #expect(try await h.api("/api/auth/me", as: phone).status == 401)
            #expect(try await h.request("/api/auth/refresh", body: #"{"refresh_token":"\#(phone.refresh)"}"#, key: nil).status == 401)
            #expect(try await h.api("/api/auth/me", as: laptop).status == 200)
            #expect(try await h.api("/api/auth/sessions/\(phoneID)", method: .DELETE, as: laptop).status == 404)
            let after = try await h.api("/api/auth/sessions", as: laptop).list
            #expect(!after.contains { $0["id"] as? String == phoneID })

            // A refresh is a use: the sign-in stays listed under its own id.
            let refreshed = try await h.request("/api/auth/refresh", body: #"{"refresh_token":"\#(laptop.refresh)"}"#, key: nil)
            #expect(refreshed.status == 200)
            let newAccess = try #require(refreshed.json?["access_token"] as? String)
            let stillListed = try await h.request("/api/auth/sessions", method: .GET, key: newAccess).list
            #expect(stillListed.count == after.count && stillListed.contains { $0["current"] as? Bool == true })
        }
    }

    @Test func signingOutEverywhereEndsEverySignInOnEveryInstance() async throws {
        let directory = NSTemporaryDirectory() + "sluice-signins-\(UUID().uuidString)"
        let secret = String(repeating: "z", count: 40)
        try await Harness.run(configure: { $0.auth.jwtSecret = secret }, directory: directory) { first in
            try await Harness.run(configure: { $0.auth.jwtSecret = secret }, directory: directory) { second in
                let email = "everywhere@test.dev"
                _ = try await first.signUp(email)
                let a = try await Self.signIn(first, email, device: "A")
                let b = try await Self.signIn(second, email, device: "B")
                // Each instance honours the other's tokens, and ends them at once.
                #expect(try await second.api("/api/auth/me", as: a).status == 200)
                #expect(try await first.api("/api/auth/sessions", as: b).list.count == 3)
                let bID = try #require(try await second.api("/api/auth/sessions", as: b).list.first { $0["current"] as? Bool == true }?["id"] as? String)
                #expect(try await first.api("/api/auth/sessions/\(bID)", method: .DELETE, as: a).status == 204)
                #expect(try await second.api("/api/auth/me", as: b).status == 401)
                #expect(try await first.api("/api/auth/me", as: b).status == 401)

                #expect(try await second.api("/api/auth/sessions", method: .DELETE, as: a).status == 204)
                #expect(try await first.api("/api/auth/me", as: a).status == 401)
                #expect(try await second.api("/api/auth/me", as: a).status == 401)
                #expect(try await first.request("/api/auth/refresh", body: #"{"refresh_token":"\#(a.refresh)"}"#, key: nil).status == 401)
            }
        }
    }
}
