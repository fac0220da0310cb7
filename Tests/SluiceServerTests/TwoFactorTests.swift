import Foundation
import NIOHTTP1
@testable import SluiceServer
import Testing

/// Two-factor sign-in with TOTP and recovery codes, and admins required to use it.
@Suite struct TwoFactorTests {
    @Test func codesMatchTheRFCVectors() throws {
        // RFC 6238, appendix B (SHA-1), cut to six digits.
        let secret = Array("12345678901234567890".utf8)
        #expect(TOTP.code(secret: secret, step: TOTP.step(at: Date(timeIntervalSince1970: 59))) == "287082")
        #expect(TOTP.code(secret: secret, step: TOTP.step(at: Date(timeIntervalSince1970: 1_111_111_109))) == "081804")
        #expect(TOTP.code(secret: secret, step: TOTP.step(at: Date(timeIntervalSince1970: 2_000_000_000))) == "279037")
        #expect(Base32.decode(Base32.encode(secret)) == secret)
        #expect(Base32.encode(Array("foobar".utf8)) == "MZXW6YTBOI")
        let fresh = TOTP.newSecret()
        #expect(Base32.decode(fresh)?.count == 20)
        let now = Date()
        let code = TOTP.code(secret: try #require(Base32.decode(fresh)), step: TOTP.step(at: now))
        #expect(TOTP.matchingStep(code, secret: fresh, now: now) == TOTP.step(at: now))
        #expect(TOTP.matchingStep(code, secret: fresh, now: now.addingTimeInterval(120)) == nil)
        #expect(TOTP.matchingStep("12345", secret: fresh, now: now) == nil)
    }

    static func code(_ secret: String, step: Int64 = TOTP.step(at: Date())) throws -> String {
        TOTP.code(secret: try #require(Base32.decode(secret)), step: step)
    }

    static func login(_ h: Harness, _ email: String, otp: String? = nil) async throws -> Harness.Reply {
        let otpField = otp.map { #","otp":"\#($0)""# } ?? ""
        return try await h.request("/api/auth/login", body: #"{"email":"\#(email)","password":"\#(Harness.password)"\#(otpField)}"#, key: nil)
    }

    @Test func aUserTurnsItOnSignsInWithCodesAndRecoveryCodesOnceEach() async throws {
        try await Harness.run { h in
            let email = "totp@test.dev"
            let session = try await h.signUp(email)
            let setup = try await h.api("/api/auth/2fa/setup", method: .POST, body: "{}", as: session)
            #expect(setup.status == 200)
            let secret = try #require(setup.json?["secret"] as? String)
            #expect((setup.json?["otpauth_uri"] as? String)?.hasPrefix("otpauth://totp/Sluice:totp%40test.dev?secret=\(secret)") == true)
            // Pending: sign-in is as before.
            #expect(try await Self.login(h, email).status == 200)

            let wrong = try await h.api("/api/auth/2fa/enable", method: .POST, body: #"{"code":"000000"}"#, as: session)
            #expect(wrong.status == 401 && wrong.errorCode == "invalid_two_factor_code")
            // Codes for this step and the next, taken together: the next is still within the window when the clock ticks.
            let step = TOTP.step(at: Date())
            let first = try Self.code(secret, step: step)
            let next = try Self.code(secret, step: step + 1)
            let enabled = try await h.api("/api/auth/2fa/enable", method: .POST, body: #"{"code":"\#(first)"}"#, as: session)
            #expect(enabled.status == 200)
            let recovery = try #require(enabled.json?["recovery_codes"] as? [String])
            #expect(recovery.count == 10 && Set(recovery).count == 10)
            #expect(try await h.api("/api/auth/2fa/setup", method: .POST, body: "{}", as: session).status == 409)

            // On: the password alone is not enough, and each code works once.
            let bare = try await Self.login(h, email)
            #expect(bare.status == 401 && bare.errorCode == "two_factor_required")
            #expect(try await Self.login(h, email, otp: first).status == 401, "the step enable used is spent")
            #expect(try await Self.login(h, email, otp: next).status == 200)
            #expect(try await Self.login(h, email, otp: next).status == 401, "a replayed code")
            #expect(try await Self.login(h, email, otp: recovery[0].uppercased()).status == 200)
            #expect(try await Self.login(h, email, otp: recovery[0]).status == 401, "a used recovery code")
            #expect(try await Self.login(h, email, otp: "nope-nope").status == 401)

            // Off, with a recovery code: the password is enough again.
            #expect(try await h.api("/api/auth/2fa/disable", method: .POST, body: #"{"code":"000000"}"#, as: session).status == 401)
            #expect(try await h.api("/api/auth/2fa/disable", method: .POST, body: #"{"code":"\#(recovery[1])"}"#, as: session).status == 204)
            #expect(try await Self.login(h, email).status == 200)
            #expect(try await h.api("/api/auth/2fa/disable", method: .POST, body: #"{"code":"\#(recovery[2])"}"#, as: session).status == 409)
        }
    }

    @Test func adminsCanBeRequiredToUseIt() async throws {
        try await Harness.run(configure: { $0.auth.requireAdminTwoFactor = true }) { h in
            let admin = try await h.signInAdmin()
            let refused = try await h.api("/api/admin/users", as: admin)
            #expect(refused.status == 403 && refused.errorCode == "two_factor_enrollment_required")
            // Their own pages stay open, so they can enrol.
            #expect(try await h.api("/api/auth/me", as: admin).status == 200)
            let secret = try #require(try await h.api("/api/auth/2fa/setup", method: .POST, body: "{}", as: admin).json?["secret"] as? String)
            #expect(try await h.api("/api/auth/2fa/enable", method: .POST, body: #"{"code":"\#(try Self.code(secret))"}"#, as: admin).status == 200)
            #expect(try await h.api("/api/admin/users", as: admin).status == 200)
            // A plain user is not asked.
            let user = try await h.signUp()
            #expect(try await h.api("/api/auth/me", as: user).status == 200)
        }
    }
}
