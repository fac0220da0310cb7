import Foundation
import Hummingbird
import JWTKit
import Logging
import NIOHTTP1
import SluiceTestSupport
@testable import SluiceServer
import Synchronization
import Testing

/// Tokens from an outside identity provider: a loopback issuer publishes its keys (JWKS) and
/// signs tokens; Sluice verifies them, follows a key rotation, refuses forged or stale ones, and
/// makes the user on `POST /api/users/ensure`.
@Suite struct ExternalIdentityTests {
    static let issuer = "https://issuer.test/"
    static let audience = "sluice-test"

    /// The token's claims, as an identity provider writes them.
    typealias Claims = ExternalClaims

    /// The issuer: its signing keys, and the JWKS it serves (what rotation changes).
    final class Issuer: Sendable {
        private let state = Mutex<(jwks: String, fetches: Int, url: String)>(("{\"keys\":[]}", 0, ""))
        let signer = JWTKeyCollection()
        var url: String { state.withLock { $0.url } }
        var fetches: Int { state.withLock { $0.fetches } }
        func publish(_ keys: [String]) { state.withLock { $0.jwks = "{\"keys\":[\(keys.joined(separator: ","))]}" } }

        func token(
            kid: String, subject: String = "auth0|alice", email: String? = "alice@idp.test", audience: String = ExternalIdentityTests.audience,
            issuer: String = ExternalIdentityTests.issuer, expires: Date = Date().addingTimeInterval(600), notBefore: Date? = nil
        ) async throws -> String {
            try await signer.sign(
                Claims(
                    sub: .init(value: subject), iss: .init(value: issuer), aud: .init(value: [audience]), exp: .init(value: expires),
                    nbf: notBefore.map { .init(value: $0) }, email: email, name: "Alice"),
                kid: JWKIdentifier(string: kid))
        }

        static func run(_ body: (Issuer) async throws -> Void) async throws {
            let issuer = Issuer()
            let (ports, sink) = AsyncStream.makeStream(of: Int.self)
            let router = Router()
            router.get("/jwks.json") { _, _ in
                let jwks = issuer.state.withLock { state in
                    state.fetches += 1
                    return state.jwks
                }
                return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(string: jwks)))
            }
            let app = Application(
                router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "issuer"),
                onServerRunning: { sink.yield($0.localAddress?.port ?? 0) }, logger: Logger(label: "issuer", factory: { _ in SwiftLogNoOpLogHandler() }))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await app.run() }
                var iterator = ports.makeAsyncIterator()
                let port = try #require(await iterator.next())
                issuer.state.withLock { $0.url = "http://127.0.0.1:\(port)/jwks.json" }
                let outcome = await Result { try await body(issuer) }
                group.cancelAll()
                try outcome.get()
            }
        }
    }

    /// A new ES256 key in the signer, and its public JWK.
    static func ecKey(_ issuer: Issuer, kid: String) async throws -> (jwk: String, x: String) {
        let key = ES256PrivateKey()
        await issuer.signer.add(ecdsa: key, kid: JWKIdentifier(string: kid))
        let parameters = try #require(key.publicKey.parameters)
        return (#"{"kty":"EC","crv":"P-256","use":"sig","alg":"ES256","kid":"\#(kid)","x":"\#(parameters.x)","y":"\#(parameters.y)"}"#, parameters.x)
    }

    /// A new RS256 key made by openssl, in the signer, and its public JWK.
    static func rsaKey(_ issuer: Issuer, kid: String) async throws -> String {
        let path = NSTemporaryDirectory() + "idp-\(UUID().uuidString).pem"
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try openssl(["genrsa", "-out", path, "2048"]).status == 0)
        let pem = try String(contentsOfFile: path, encoding: .utf8)
        await issuer.signer.add(rsa: try Insecure.RSA.PrivateKey(pem: pem), digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid))
        let modulusLine = try openssl(["rsa", "-in", path, "-noout", "-modulus"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let hex = Array(try #require(modulusLine.split(separator: "=").last))
        let bytes = stride(from: 0, to: hex.count, by: 2).compactMap { UInt8(String(hex[$0..<$0 + 2]), radix: 16) }
        return #"{"kty":"RSA","use":"sig","alg":"RS256","kid":"\#(kid)","n":"\#(base64URL(Data(bytes)))","e":"AQAB"}"#
    }

    /// Through ChildProcess, as every test's child is: Foundation's Process reaps children of its own.
    static func openssl(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let output = NSTemporaryDirectory() + "openssl-\(UUID().uuidString).out"
        defer { try? FileManager.default.removeItem(atPath: output) }
        let status = try ChildProcess.run("/usr/bin/openssl", arguments, output: output)
        return (status, try String(contentsOfFile: output, encoding: .utf8))
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func trusting(_ issuer: Issuer) -> (inout SluiceConfig) -> Void {
        { config in
            config.auth.external.issuer = Self.issuer
            config.auth.external.audience = Self.audience
            config.auth.external.jwksURLOverride = issuer.url
        }
    }

    static func ensure(_ h: Harness, _ token: String) async throws -> Harness.Reply {
        try await h.request("/api/users/ensure", body: "{}", key: token)
    }

    @Test func ensureMakesTheUserOnceAndTheTokenSignsIn() async throws {
        try await Issuer.run { issuer in
            let ec = try await Self.ecKey(issuer, kid: "ec-1")
            let rsa = try await Self.rsaKey(issuer, kid: "rsa-1")
            issuer.publish([ec.jwk, rsa])
            try await Harness.run(configure: Self.trusting(issuer)) { h in
                let token = try await issuer.token(kid: "ec-1")
                let created = try await Self.ensure(h, token)
                #expect(created.status == 201)
                let id = try #require((created.json?["id"] as? NSNumber)?.int64Value)
                #expect(created.json?["email"] as? String == "alice@idp.test")
                let again = try await Self.ensure(h, try await issuer.token(kid: "rsa-1"))
                #expect(again.status == 200 && (again.json?["id"] as? NSNumber)?.int64Value == id)
                let me = try await h.request("/api/auth/me", method: .GET, key: token)
                #expect(me.status == 200 && (me.json?["id"] as? NSNumber)?.int64Value == id)
                #expect(try await h.request("/api/credits/balance", method: .GET, key: token).status == 200)
                // A subject never ensured is no one.
                let stranger = try await issuer.token(kid: "ec-1", subject: "auth0|bob", email: "bob@idp.test")
                #expect(try await h.request("/api/auth/me", method: .GET, key: stranger).status == 401)
                // Another identity cannot take over an existing account by its email.
                _ = try await h.signUp("carol@idp.test")
                let carol = try await issuer.token(kid: "ec-1", subject: "auth0|carol", email: "carol@idp.test")
                #expect(try await Self.ensure(h, carol).status == 409)
                #expect(issuer.fetches == 1)
            }
        }
    }

    @Test func aRotatedKeyIsFetchedAndJunkKeyIDsDoNotHammerTheIssuer() async throws {
        try await Issuer.run { issuer in
            let first = try await Self.ecKey(issuer, kid: "k1")
            issuer.publish([first.jwk])
            try await Harness.run(configure: Self.trusting(issuer)) { h in
                #expect(try await Self.ensure(h, try await issuer.token(kid: "k1")).status == 201)
                #expect(issuer.fetches == 1)
                // The issuer rotates: the new key's tokens are accepted after one refetch.
                let second = try await Self.ecKey(issuer, kid: "k2")
                issuer.publish([second.jwk])
                let rotated = try await issuer.token(kid: "k2")
                #expect(try await h.request("/api/auth/me", method: .GET, key: rotated).status == 200)
                #expect(issuer.fetches == 2)
                // Unknown key ids right after: refused, and no refetch within the gap.
                for n in 0..<5 {
                    let header = Self.base64URL(Data(#"{"alg":"ES256","kid":"junk-\#(n)","typ":"JWT"}"#.utf8))
                    let forged = header + "." + (rotated.split(separator: ".").dropFirst().joined(separator: "."))
                    #expect(try await h.request("/api/auth/me", method: .GET, key: forged).status == 401)
                }
                #expect(issuer.fetches == 2)
                // The retired key's tokens no longer pass.
                #expect(try await h.request("/api/auth/me", method: .GET, key: try await issuer.token(kid: "k1")).status == 401)
            }
        }
    }

    @Test func forgedAndStaleTokensAreRefused() async throws {
        try await Issuer.run { issuer in
            let key = try await Self.ecKey(issuer, kid: "k1")
            issuer.publish([key.jwk])
            try await Harness.run(configure: Self.trusting(issuer)) { h in
                #expect(try await Self.ensure(h, try await issuer.token(kid: "k1")).status == 201)
                let good = try await issuer.token(kid: "k1")
                let body = good.split(separator: ".")[1]
                // alg none, and HS256 keyed with the public key.
                let none = Self.base64URL(Data(#"{"alg":"none","kid":"k1"}"#.utf8)) + "." + body + "."
                let hmac = JWTKeyCollection()
                await hmac.add(hmac: HMACKey(from: key.x), digestAlgorithm: .sha256, kid: JWKIdentifier(string: "k1"))
                let hs256 = try await hmac.sign(
                    Claims(
                        sub: .init(value: "auth0|alice"), iss: .init(value: Self.issuer), aud: .init(value: [Self.audience]),
                        exp: .init(value: Date().addingTimeInterval(600)), email: "alice@idp.test"),
                    kid: JWKIdentifier(string: "k1"))
                let refused = [
                    none, hs256,
                    try await issuer.token(kid: "k1", audience: "someone-else"),
                    try await issuer.token(kid: "k1", issuer: "https://evil.test/"),
                    try await issuer.token(kid: "k1", expires: Date().addingTimeInterval(-120)),
                    try await issuer.token(kid: "k1", notBefore: Date().addingTimeInterval(600)),
                    String(good.dropLast(4)) + "AAAA",
                ]
                for (index, token) in refused.enumerated() {
                    #expect(try await h.request("/api/auth/me", method: .GET, key: token).status == 401, "token \(index)")
                    #expect(try await Self.ensure(h, token).status == 401, "token \(index)")
                }
                // Within the leeway, an expired token still passes.
                let justExpired = try await issuer.token(kid: "k1", expires: Date().addingTimeInterval(-5))
                #expect(try await h.request("/api/auth/me", method: .GET, key: justExpired).status == 200)
            }
        }
    }

    @Test func withoutAnIssuerThereIsNoEnsure() async throws {
        try await Harness.run { h in
            let reply = try await h.request("/api/users/ensure", body: "{}", key: "x.y.z")
            #expect(reply.status == 404)
        }
    }
}
