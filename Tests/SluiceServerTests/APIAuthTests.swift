import Foundation
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

@Suite struct APIAuthTests {
    @Test func registerLoginMeAndTheErrorShape() async throws {
        try await Harness.run { h in
            let session = try await h.signUp("Ann@Test.dev")
            let me = try await h.api("/api/auth/me", as: session)
            #expect(me.status == 200)
            #expect(me.json?["email"] as? String == "Ann@Test.dev")
            #expect(me.json?["role"] as? String == "user")
            #expect(me.json?["plan"] as? String == "free")
            #expect(me.json?["password_hash"] == nil)

            // The same email in another case is the same account.
            let again = try await h.request("/api/auth/register", body: #"{"email":"ann@test.dev","password":"another password"}"#, key: nil)
            #expect(again.status == 409)
            let short = try await h.request("/api/auth/register", body: #"{"email":"b@test.dev","password":"short"}"#, key: nil)
            #expect(short.status == 400 && short.error?["param"] as? String == "password")
            let malformed = try await h.request("/api/auth/register", body: "{not json", key: nil)
            #expect(malformed.status == 400 && malformed.error?["type"] as? String == "invalid_request_error")
            let wrong = try await h.request("/api/auth/login", body: #"{"email":"ann@test.dev","password":"wrong password"}"#, key: nil)
            #expect(wrong.status == 401 && wrong.errorCode == "invalid_credentials")
            let nobody = try await h.request("/api/auth/login", body: #"{"email":"nobody@test.dev","password":"wrong password"}"#, key: nil)
            #expect(nobody.status == 401 && nobody.body == wrong.body)
            #expect(try await h.api("/api/auth/me", as: nil).status == 401)
        }
    }

    @Test func passwordsAreBcryptAtCost12ByDefault() async throws {
        #expect(SluiceConfig().auth.bcryptCost == 12)
        let hasher = PasswordHasher(cost: SluiceConfig().auth.bcryptCost)
        let hash = try await hasher.hash("canary password 1")
        #expect(hash.hasPrefix("$2b$12$"))
        #expect(try await hasher.verify("canary password 1", against: hash))
        #expect(try await !hasher.verify("canary password 2", against: hash))
    }

    @Test func refreshTokensRotateAndAReuseRevokesTheWholeFamily() async throws {
        try await Harness.run { h in
            let session = try await h.signUp()
            let first = try await h.request("/api/auth/refresh", body: #"{"refresh_token":"\#(session.refresh)"}"#, key: nil)
            #expect(first.status == 200)
            let rotated = try #require(first.json?["refresh_token"] as? String)
            let access2 = try #require(first.json?["access_token"] as? String)
            #expect(rotated != session.refresh)

            // The old token again: someone copied it. Every token of this sign-in dies.
            let replay = try await h.request("/api/auth/refresh", body: #"{"refresh_token":"\#(session.refresh)"}"#, key: nil)
            #expect(replay.status == 401 && replay.errorCode == "invalid_token")
            let successor = try await h.request("/api/auth/refresh", body: #"{"refresh_token":"\#(rotated)"}"#, key: nil)
            #expect(successor.status == 401)
            #expect(try await h.request("/api/auth/me", method: .GET, key: access2).status == 401)
            #expect(try await h.api("/api/auth/me", as: session).status == 401)
        }
    }

    @Test func logoutEndsTheSignInButNotOthers() async throws {
        try await Harness.run { h in
            let email = "two@test.dev"
            let phone = try await h.signUp(email)
            let laptop = try await h.signIn(email)
            #expect(try await h.api("/api/auth/logout", method: .POST, as: phone).status == 204)
            #expect(try await h.api("/api/auth/me", as: phone).status == 401)
            #expect(try await h.request("/api/auth/refresh", body: #"{"refresh_token":"\#(phone.refresh)"}"#, key: nil).status == 401)
            #expect(try await h.api("/api/auth/me", as: laptop).status == 200)
        }
    }

    @Test func disabledUsersCannotSignInAndTheirKeysAreRefused() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up")
            let admin = try await h.signInAdmin()
            let user = try await h.signUp("dis@test.dev")
            try await h.fund(user)
            let key = try #require(try await h.api("/api/api-keys", method: .POST, body: "{}", as: user).json?["key"] as? String)
            #expect(try await h.chat(key).status == 200)

            let patch = try await h.api("/api/admin/users/\(user.userID)", method: .PATCH, body: #"{"status":"disabled"}"#, as: admin)
            #expect(patch.status == 200 && patch.json?["status"] as? String == "disabled")
            #expect(try await h.api("/api/auth/me", as: user).status == 401)
            let login = try await h.request("/api/auth/login", body: #"{"email":"dis@test.dev","password":"\#(Harness.password)"}"#, key: nil)
            #expect(login.status == 403 && login.errorCode == "account_disabled")
            try await eventually("the key is refused once the cache entry expires") { try await h.chat(key).status == 403 }
        }
    }

    @Test func mutedUsersMaySignInAndLookButNotCallModels() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up")
            let admin = try await h.signInAdmin()
            let user = try await h.signUp("muted@test.dev")
            let key = try #require(try await h.api("/api/api-keys", method: .POST, body: "{}", as: user).json?["key"] as? String)
            _ = try await h.api("/api/admin/users/\(user.userID)", method: .PATCH, body: #"{"status":"muted"}"#, as: admin)
            let again = try await h.signIn("muted@test.dev")
            #expect(try await h.api("/api/credits/balance", as: again).status == 200)
            try await eventually("chat is refused for a muted user") {
                let reply = try await h.chat(key)
                return reply.status == 403 && reply.errorCode == "account_muted"
            }
        }
    }

    @Test func registrationCanBeClosed() async throws {
        try await Harness.run(configure: { $0.auth.allowRegistration = false }) { h in
            let reply = try await h.request("/api/auth/register", body: #"{"email":"x@test.dev","password":"long enough pw"}"#, key: nil)
            #expect(reply.status == 403 && reply.errorCode == "registration_closed")
        }
    }
}
