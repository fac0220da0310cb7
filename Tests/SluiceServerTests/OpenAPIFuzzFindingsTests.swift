import Foundation
import Testing

@testable import SluiceServer

/// Requests the OpenAPI fuzz run sends (Schemathesis draws such times, encoded colons and
/// combining accents) that the server refused although the document allowed them.
@Suite struct OpenAPIFuzzFindingsTests {
    /// `date-time` as OpenAPI (RFC 3339) spells it, which Foundation's ISO 8601 readers each only
    /// partly read.
    @Test(arguments: [
        ("2026-11-01T12:30:00Z", 1_793_536_200.0), ("2026-11-01t12:30:00z", 1_793_536_200.0),
        ("2026-11-01T12:30:00.25Z", 1_793_536_200.25), ("2026-11-01T14:30:00+02:00", 1_793_536_200.0),
        ("2026-11-01T07:00:00-05:30", 1_793_536_200.0),
    ])
    func rfc3339TimesInEverySpelling(text: String, seconds: Double) {
        #expect(RFC3339Date.time(text)?.timeIntervalSince1970 == seconds)
    }

    @Test(arguments: ["2026-02-30T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-01T24:00:00Z", "2026-11-01T12:30:00", "2026-11-01T12:30:00.Z",
        "2026-11-01T12:30:00Z ", "2026-11-01"])
    func notTimes(text: String) {
        #expect(RFC3339Date.time(text) == nil)
    }

    @Test func aDateIsItsMidnightUTC() {
        #expect(RFC3339Date.day("2026-11-01")?.timeIntervalSince1970 == 1_793_491_200)
        #expect(RFC3339Date.day("2026-02-29") == nil)
    }

    /// A client that percent-encodes the colon asks for the same method.
    @Test func aGeminiActionWithAnEncodedColon() {
        #expect(GeminiAPI.action("/v1beta/models/gemini-mock%3AgenerateContent").map { "\($0.model) \($0.stream)" } == "gemini-mock false")
        #expect(GeminiAPI.action("/v1beta/models/gemini-mock:streamGenerateContent").map { "\($0.model) \($0.stream)" } == "gemini-mock true")
        #expect(GeminiAPI.action("/v1beta/models/gemini-mock%3Aembed") == nil)
    }

    /// Password length in Unicode scalars, as the document's `minLength` counts: eight scalars that
    /// make fewer characters (combining accents) are long enough.
    @Test func passwordLengthCountsUnicodeScalars() throws {
        let combining = String(repeating: "e\u{301}", count: 4)
        #expect(combining.count == 4 && combining.unicodeScalars.count == 8)
        try PasswordHasher.validate(combining)
        #expect(throws: (any Error).self) { try PasswordHasher.validate("e\u{301}e\u{301}e\u{301}") }
    }

    @Test func anAPIKeyExpiryMayHaveFractionalSecondsAndAnOffset() async throws {
        try await Harness.run { h in
            let user = try await h.signUp()
            let reply = try await h.api("/api/api-keys", method: .POST, body: #"{"expires_at":"2099-01-01T00:00:00.5+01:00"}"#, as: user)
            #expect(reply.status == 201, "\(reply.text)")
            #expect(reply.json?["expires_at"] as? String == "2098-12-31T23:00:00Z")
        }
    }
}
