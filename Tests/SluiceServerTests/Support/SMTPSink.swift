import Foundation
import SluiceServer
import SluiceTestSupport
import Testing

/// `Tests/conformance/smtp_sink.py` (aiosmtpd) on a loopback port, with a self-signed certificate
/// made by openssl for 127.0.0.1, STARTTLS and AUTH required. Each accepted mail lands in its
/// directory as JSON.
final class SMTPSink: Sendable {
    static let user = "mailer"
    static let password = "mail-pass"

    let port: Int
    let directory: String
    let certificate: String
    private let process: ChildProcess

    /// A certificate and key for 127.0.0.1, made once per call.
    static func makeCertificate(in directory: String) throws -> (cert: String, key: String) {
        let cert = directory + "/cert.pem"
        let key = directory + "/key.pem"
        let status = try ExternalIdentityTests.openssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ]).status
        try #require(status == 0, "openssl could not make the test certificate")
        return (cert, key)
    }

    /// Starts the sink on `port` (nil: a free one) and waits until it listens.
    init(port: Int? = nil, certificate: (cert: String, key: String)? = nil) async throws {
        let directory = NSTemporaryDirectory() + "smtp-sink-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let pair = try certificate ?? Self.makeCertificate(in: directory)
        self.port = try port ?? GatewayProcess.freePort()
        self.directory = directory
        self.certificate = pair.cert
        process = try ChildProcess(
            "/usr/bin/env",
            ["python3", Harness.repoRoot.appendingPathComponent("Tests/conformance/smtp_sink.py").path, String(self.port), pair.cert, pair.key,
             Self.user, Self.password, directory],
            output: directory + "/sink.log")
        try await eventually("the SMTP sink listens", within: 30) { FileManager.default.fileExists(atPath: directory + "/ready") }
    }

    deinit { stop() }

    func stop() {
        guard process.isRunning else { return }
        process.signal(SIGTERM)
        process.waitUntilExit()
    }

    struct Mail {
        var to: [String]
        var tls: Bool
        var authenticated: Bool
        var content: String

        /// The first line that is an http link.
        var link: String? { content.split(whereSeparator: \.isNewline).map(String.init).first { $0.hasPrefix("http") } }
        /// The link's path and query, to follow on the test's gateway (whose configured address has no real port).
        var linkPath: String? {
            link.flatMap(URLComponents.init(string:)).map { $0.path + "?" + ($0.percentEncodedQuery ?? "") }
        }
        var token: String? { link.flatMap(URLComponents.init(string:))?.queryItems?.first { $0.name == "token" }?.value }
    }

    var mails: [Mail] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".json") }.sorted()
        return names.compactMap { name in
            guard let data = FileManager.default.contents(atPath: directory + "/" + name),
                  let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
            else { return nil }
            return Mail(
                to: json["to"] as? [String] ?? [], tls: json["tls"] as? Bool ?? false, authenticated: json["authenticated"] as? Bool ?? false,
                content: json["content"] as? String ?? "")
        }
    }

    /// Waits for the `count`th mail and returns it.
    func mail(_ count: Int) async throws -> Mail {
        try await eventually("mail \(count) arrives", within: 30) { mails.count >= count }
        return mails[count - 1]
    }

    /// The gateway's settings for sending here.
    func configure(_ config: inout SluiceConfig) {
        config.email.smtpHost = "127.0.0.1"
        config.email.smtpPort = port
        config.email.security = .starttls
        config.email.username = Self.user
        config.email.password = Self.password
        config.email.caFile = certificate
        config.email.from = "Sluice <noreply@sluice.test>"
        config.email.pollMillis = 100
        config.email.retryBaseSeconds = 1
        config.email.timeoutSeconds = 10
    }
}
