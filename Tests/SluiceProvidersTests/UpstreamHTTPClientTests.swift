import NIOCore
import NIOHTTP1
import NIOSSL
import Foundation
import SluiceTestSupport
import Testing
@testable import SluiceProviders

@Suite struct UpstreamHTTPClientTests {
    let client = UpstreamHTTPClient()

    func post(_ url: String, body: String = #"{"model":"m"}"#, headTimeout: TimeAmount = .seconds(5)) async throws -> UpstreamResponse {
        try await client.execute(
            .POST, url: url, headers: ["content-type": "application/json", "authorization": "Bearer k"],
            body: ByteBuffer(string: body), headTimeout: headTimeout)
    }

    /// Waits (a bounded while) for the server to have seen what `condition` looks for.
    func eventually(_ server: ScriptedUpstream, _ condition: (ScriptedUpstream.Seen) -> Bool) async throws -> Bool {
        for _ in 0..<200 {
            if server.seen.withLockedValue({ condition($0) }) { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    @Test func sequentialRequestsShareOneKeepAliveConnection() async throws {
        let server = try await ScriptedUpstream.start(.json(#"{"ok":true}"#))
        defer { Task { try await server.stop() } }
        for _ in 0..<3 {
            let response = try await post(server.url + "/v1/chat/completions")
            #expect(response.status == 200)
            #expect(String(buffer: try await response.body.collect(upTo: 1024)) == #"{"ok":true}"#)
        }
        let seen = server.seen.withLockedValue { $0 }
        #expect(seen.connections == 1)
        #expect(seen.requests.count == 3)
        let request = try #require(seen.requests.first)
        #expect(request.head.method == .POST)
        #expect(request.head.uri == "/v1/chat/completions")
        #expect(request.head.headers["host"] == [String(server.url.dropFirst("http://".count))])
        #expect(request.head.headers["authorization"] == ["Bearer k"])
        #expect(request.head.headers["content-length"] == ["13"])
        #expect(request.body == #"{"model":"m"}"#)
        await client.shutdown()
    }

    @Test func aResponseThatClosesTheConnectionIsNotReused() async throws {
        let server = try await ScriptedUpstream.start(.json("{}", close: true))
        defer { Task { try await server.stop() } }
        for _ in 0..<2 {
            let response = try await post(server.url + "/v1/x")
            _ = try await response.body.collect(upTo: 1024)
        }
        #expect(server.seen.withLockedValue { $0.connections } == 2)
        await client.shutdown()
    }

    @Test func aConnectionTheUpstreamClosedWhileIdleIsReplaced() async throws {
        let server = try await ScriptedUpstream.start(.json("{}"))
        defer { Task { try await server.stop() } }
        _ = try await post(server.url + "/v1/x").body.collect(upTo: 1024)
        try await server.closeClientConnections()
        #expect(try await eventually(server) { $0.closedConnections == 1 })
        let response = try await post(server.url + "/v1/x")
        #expect(response.status == 200)
        #expect(server.seen.withLockedValue { $0.connections } == 2)
        await client.shutdown()
    }

    @Test func noHeadInTimeIsATimeout() async throws {
        let server = try await ScriptedUpstream.start(.hang)
        defer { Task { try await server.stop() } }
        await #expect(throws: UpstreamTransportError.timeout) {
            _ = try await post(server.url + "/v1/x", headTimeout: .milliseconds(200))
        }
        #expect(try await eventually(server) { $0.closedConnections == 1 }, "the connection is closed, not reused")
        await client.shutdown()
    }

    @Test func aStreamArrivesInItsPartsAndEnds() async throws {
        let server = try await ScriptedUpstream.start(.stream(parts: 5, interval: .milliseconds(5)))
        defer { Task { try await server.stop() } }
        let response = try await post(server.url + "/v1/x")
        var parts: [String] = []
        for try await part in response.body { parts.append(String(buffer: part)) }
        #expect(parts.joined() == (1...5).map { "part \($0)\n" }.joined())
        #expect(parts.count > 1, "parts are handed over as they arrive, not gathered")
        await client.shutdown()
    }

    @Test func silenceInsideABodyEndsItAfterTheReadTimeout() async throws {
        var configuration = UpstreamHTTPClient.Configuration()
        // Long enough for the head to arrive in time when the whole suite loads the machine (200 ms
        // did not always), short beside the 30 s silence after the first part.
        configuration.readTimeout = .seconds(2)
        let client = UpstreamHTTPClient(configuration: configuration)
        let server = try await ScriptedUpstream.start(.stream(parts: 2, interval: .seconds(30)))
        defer { Task { try await server.stop() } }
        let response = try await client.execute(.POST, url: server.url + "/v1/x", headers: [:], body: nil, headTimeout: .seconds(5))
        await #expect(throws: UpstreamConnectionState.Failure.readTimeout) { for try await _ in response.body {} }
        #expect(try await eventually(server) { $0.closedConnections == 1 })
        await client.shutdown()
    }

    /// Silence inside a body, shorter than the read timeout, reaches the consumer as empty reads
    /// every heartbeat (for the relay's keepalive comments); the body then goes on intact.
    @Test func silenceInsideABodyYieldsAnEmptyReadEachHeartbeat() async throws {
        var configuration = UpstreamHTTPClient.Configuration()
        configuration.readTimeout = .seconds(10)
        configuration.heartbeat = .milliseconds(200)
        let client = UpstreamHTTPClient(configuration: configuration)
        let server = try await ScriptedUpstream.start(.stream(parts: 2, interval: .seconds(1)))
        defer { Task { try await server.stop() } }
        let response = try await client.execute(.POST, url: server.url + "/v1/x", headers: [:], body: nil, headTimeout: .seconds(5))
        var empty = 0
        var text = ""
        for try await part in response.body {
            if part.readableBytes == 0 { empty += 1 } else { text += String(buffer: part) }
        }
        #expect(empty >= 2, "\(empty) empty reads in a second of silence")
        #expect(text.split(separator: "\n").count == 2)
        await client.shutdown()
    }

    /// The read timeout bounds the silence between reads, not the whole body. Twenty times the
    /// interval between parts, so a loaded machine's pauses do not reach it.
    @Test func aBodyThatKeepsArrivingOutlastsTheReadTimeout() async throws {
        var configuration = UpstreamHTTPClient.Configuration()
        configuration.readTimeout = .seconds(2)
        let client = UpstreamHTTPClient(configuration: configuration)
        let server = try await ScriptedUpstream.start(.stream(parts: 25, interval: .milliseconds(100)))
        defer { Task { try await server.stop() } }
        let response = try await client.execute(.POST, url: server.url + "/v1/x", headers: [:], body: nil, headTimeout: .seconds(5))
        var text = ""
        for try await part in response.body { text += String(buffer: part) }
        #expect(text.split(separator: "\n") == (1...25).map { "part \($0)" })
        await client.shutdown()
    }

    /// A consumer that stops reading for longer than the read timeout holds the upstream's reads
    /// back; that pause is not the upstream's silence, and the body arrives whole after it. The
    /// timeout is far above the parts' interval: under the whole suite's load the scripted
    /// upstream itself was once silent past 300 ms, which is a real silence.
    @Test func aConsumerThatPausesPastTheReadTimeoutStillGetsTheWholeBody() async throws {
        var configuration = UpstreamHTTPClient.Configuration()
        configuration.readTimeout = .seconds(2)
        let client = UpstreamHTTPClient(configuration: configuration)
        // Far more parts than the body's buffer holds, so reads are held during the pause.
        let server = try await ScriptedUpstream.start(.stream(parts: 200, interval: .milliseconds(1)))
        defer { Task { try await server.stop() } }
        let response = try await client.execute(.POST, url: server.url + "/v1/x", headers: [:], body: nil, headTimeout: .seconds(5))
        var text = ""
        for try await part in response.body {
            if text.isEmpty { try await Task.sleep(for: .seconds(5)) }
            text += String(buffer: part)
        }
        #expect(text.split(separator: "\n") == (1...200).map { "part \($0)" })
        await client.shutdown()
    }

    /// Before the head, silence ends the call at the read timeout when that comes first.
    @Test func silenceBeforeTheHeadEndsAtTheReadTimeout() async throws {
        var configuration = UpstreamHTTPClient.Configuration()
        configuration.readTimeout = .milliseconds(200)
        let client = UpstreamHTTPClient(configuration: configuration)
        let server = try await ScriptedUpstream.start(.hang)
        defer { Task { try await server.stop() } }
        let started = ContinuousClock.now
        await #expect(throws: UpstreamTransportError.timeout) {
            _ = try await client.execute(.POST, url: server.url + "/v1/x", headers: [:], body: nil, headTimeout: .seconds(120))
        }
        #expect(ContinuousClock.now - started < .seconds(60), "the read timeout ended it, not the head timeout")
        await client.shutdown()
    }

    /// A header that could forge others (CR, LF) or is not a token never reaches the upstream.
    @Test func headersHTTPForbidsAreRefusedBeforeSending() async throws {
        let server = try await ScriptedUpstream.start()
        defer { Task { try await server.stop() } }
        for headers: HTTPHeaders in [["authorization": "Bearer k\r\nx-injected: 1"], ["bad name": "v"], ["x-nul": "a\u{0}b"]] {
            await #expect(throws: UpstreamTransportError.self) {
                _ = try await client.execute(.POST, url: server.url + "/v1/x", headers: headers, body: nil, headTimeout: .seconds(5))
            }
        }
        let response = try await client.execute(
            .POST, url: server.url + "/v1/x", headers: ["authorization": "Bearer k\tv", "x-ok_~": "é"], body: nil, headTimeout: .seconds(5))
        #expect(response.status == 200)
        #expect(server.seen.withLockedValue { $0.requests.count } == 1)
        await client.shutdown()
    }

    @Test func leavingAStreamEarlyClosesItsConnection() async throws {
        let server = try await ScriptedUpstream.start(.stream(parts: 1000, interval: .milliseconds(5)))
        defer { Task { try await server.stop() } }
        do {
            let response = try await post(server.url + "/v1/x")
            var iterator = response.body.makeAsyncIterator()
            _ = try await iterator.next()
        }
        #expect(try await eventually(server) { $0.closedConnections == 1 })
        server.reply.withLockedValue { $0 = .json("{}") }
        let response = try await post(server.url + "/v1/x")
        #expect(String(buffer: try await response.body.collect(upTo: 1024)) == "{}")
        #expect(server.seen.withLockedValue { $0.connections } == 2)
        await client.shutdown()
    }

    @Test func aBodyPastTheLimitIsRefused() async throws {
        let server = try await ScriptedUpstream.start(.json(String(repeating: "x", count: 5000)))
        defer { Task { try await server.stop() } }
        let response = try await post(server.url + "/v1/x")
        await #expect(throws: UpstreamBodyTooLarge.self) { _ = try await response.body.collect(upTo: 4096) }
        await client.shutdown()
    }

    @Test func cancellingTheCallerClosesTheConnection() async throws {
        let server = try await ScriptedUpstream.start(.hang)
        defer { Task { try await server.stop() } }
        let call = Task { try await post(server.url + "/v1/x") }
        #expect(try await eventually(server) { $0.requests.count == 1 })
        call.cancel()
        await #expect(throws: CancellationError.self) { _ = try await call.value }
        #expect(try await eventually(server) { $0.closedConnections == 1 })
        await client.shutdown()
    }

    @Test func unreachableAndMalformedURLsAreConnectErrors() async throws {
        let server = try await ScriptedUpstream.start()
        let url = server.url
        try await server.stop()
        await #expect(throws: UpstreamTransportError.self) { _ = try await post(url + "/v1/x") }
        await #expect(throws: UpstreamTransportError.connect("not an http or https URL")) { _ = try await post("ftp://example.com/x") }
        await client.shutdown()
    }

    @Test func httpsVerifiesTheUpstreamsCertificate() async throws {
        let (certificate, key) = try Self.selfSignedCertificate(for: "localhost")
        let server = try await ScriptedUpstream.start(
            .json("{}"), tls: NIOSSLContext(configuration: .makeServerConfiguration(certificateChain: [.certificate(certificate)], privateKey: .privateKey(key))))
        defer { Task { try await server.stop() } }
        #expect(server.url.hasPrefix("https://"))
        var trusting = UpstreamHTTPClient.Configuration()
        trusting.tls.trustRoots = .certificates([certificate])
        let client = UpstreamHTTPClient(configuration: trusting)
        let response = try await client.execute(.POST, url: server.url + "/v1/x", headers: [:], body: nil, headTimeout: .seconds(5))
        #expect(String(buffer: try await response.body.collect(upTo: 1024)) == "{}")
        await client.shutdown()
        // The system's trust roots do not know the test's own certificate: no request goes out.
        await #expect(throws: UpstreamTransportError.self) { _ = try await post(server.url + "/v1/x") }
        #expect(server.seen.withLockedValue { $0.requests.count } == 1)
        await self.client.shutdown()
    }

    /// A throwaway certificate and key from Debian's openssl, for a TLS upstream on loopback.
    static func selfSignedCertificate(for host: String) throws -> (NIOSSLCertificate, NIOSSLPrivateKey) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-tls-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try ChildProcess.run("/usr/bin/env", [
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=\(host)", "-addext", "subjectAltName=DNS:\(host)",
            "-keyout", directory.appendingPathComponent("key.pem").path, "-out", directory.appendingPathComponent("cert.pem").path,
        ])
        return (
            try #require(NIOSSLCertificate.fromPEMFile(directory.appendingPathComponent("cert.pem").path).first),
            try NIOSSLPrivateKey(file: directory.appendingPathComponent("key.pem").path, format: .pem)
        )
    }

    @Test func urlsAreSplitIntoOriginAndTarget() throws {
        let plain = try #require(UpstreamURL("http://127.0.0.1:8080/v1/chat/completions?x=1"))
        #expect(plain.origin == UpstreamOrigin(tls: false, host: "127.0.0.1", port: 8080))
        #expect(plain.pathAndQuery == "/v1/chat/completions?x=1")
        #expect(plain.hostHeader == "127.0.0.1:8080")
        let tls = try #require(UpstreamURL("https://api.openai.com/v1/chat/completions"))
        #expect(tls.origin == UpstreamOrigin(tls: true, host: "api.openai.com", port: 443))
        #expect(tls.hostHeader == "api.openai.com")
        let v6 = try #require(UpstreamURL("http://[::1]:9000"))
        #expect(v6.origin.host == "::1")
        #expect(v6.pathAndQuery == "/")
        #expect(v6.hostHeader == "[::1]:9000")
        #expect(UpstreamURL("/relative") == nil)
    }

    // MARK: Through a proxy

    func post(_ url: String, through proxy: UpstreamProxy) async throws -> UpstreamResponse {
        try await client.execute(
            .POST, url: url, headers: ["content-type": "application/json"], body: ByteBuffer(string: "{}"), headTimeout: .seconds(5),
            proxy: proxy)
    }

    @Test func aCallThroughAProxyTunnelsWithItsCredentialsAndKeepsItsOwnConnections() async throws {
        let server = try await ScriptedUpstream.start(.json(#"{"ok":true}"#))
        let proxy = try await ConnectProxy.start(requiredAuthorization: "Basic dXNlcjpwIHNz")
        defer { Task { try await server.stop(); try await proxy.stop() } }
        let through = try UpstreamProxy(url: "http://user:p%20ss@127.0.0.1:\(proxy.port)")
        for _ in 0..<2 {
            let response = try await post(server.url + "/v1/x", through: through)
            #expect(response.status == 200)
            #expect(String(buffer: try await response.body.collect(upTo: 1024)) == #"{"ok":true}"#)
        }
        // One tunnel, reused; the CONNECT named the upstream and carried the proxy's credentials.
        let address = String(server.url.dropFirst("http://".count))
        #expect(proxy.seen.withLockedValue { $0.targets } == [address])
        #expect(proxy.seen.withLockedValue { $0.authorizations } == ["Basic dXNlcjpwIHNz"])
        // A direct call to the same upstream does not ride the tunnel.
        _ = try await post(server.url + "/v1/x")
        #expect(server.seen.withLockedValue { $0.connections } == 2)
        #expect(proxy.seen.withLockedValue { $0.targets.count } == 1)
        await client.shutdown()
    }

    @Test func aProxyThatRefusesOrIsDownFailsTheCallWithoutGoingDirect() async throws {
        let server = try await ScriptedUpstream.start(.json("{}"))
        let proxy = try await ConnectProxy.start(requiredAuthorization: "Basic c2VjcmV0")
        defer { Task { try await server.stop() } }
        // Wrong credentials: the proxy answers 407.
        await #expect(throws: UpstreamTransportError.self) {
            _ = try await post(server.url + "/v1/x", through: try UpstreamProxy(url: "http://wrong:creds@127.0.0.1:\(proxy.port)"))
        }
        proxy.refuseWith.withLockedValue { $0 = 502 }
        await #expect(throws: UpstreamTransportError.self) {
            _ = try await post(server.url + "/v1/x", through: try UpstreamProxy(url: "http://127.0.0.1:\(proxy.port)"))
        }
        // Nobody listens there any more.
        let port = proxy.port
        try await proxy.stop()
        await #expect(throws: UpstreamTransportError.self) {
            _ = try await post(server.url + "/v1/x", through: try UpstreamProxy(url: "http://127.0.0.1:\(port)"))
        }
        #expect(server.seen.withLockedValue { $0.connections } == 0)
        await client.shutdown()
    }

    @Test func proxyURLsAreHTTPWithAHostAndAPort() throws {
        let plain = try UpstreamProxy(url: "http://proxy.example:3128")
        #expect(plain.address == "proxy.example:3128" && plain.authorization == nil)
        let v6 = try UpstreamProxy(url: "http://u:p@[::1]:8080/")
        #expect(v6.host == "::1" && v6.address == "[::1]:8080" && v6.authorization == "Basic " + Data("u:p".utf8).base64EncodedString())
        for bad in ["https://proxy.example:443", "socks5://proxy.example:1080", "http://proxy.example", "http://:3128", "http://p.example:3128/x", "http://p.example:3128?a=1"] {
            #expect(throws: UpstreamProxy.Invalid.self, "\(bad)") { try UpstreamProxy(url: bad) }
        }
        #expect(ProxyConnectHandler.status(of: "HTTP/1.1 200 Connection established\r\nVia: x") == 200)
        #expect(ProxyConnectHandler.status(of: "HTTP/1.0 407 Proxy Authentication Required") == 407)
        #expect(ProxyConnectHandler.status(of: "SSH-2.0-OpenSSH") == nil)
    }
}
