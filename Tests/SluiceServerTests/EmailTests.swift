import Foundation
import NIOCore
import SluiceCore
@testable import SluiceServer
import SluiceStore
import Testing

/// Mail through a real SMTP server (aiosmtpd, STARTTLS and AUTH required): verification on
/// register, password reset, change of email, each followed from the link in the mail; and a
/// server that is down, which delays mail and never a request.
@Suite struct EmailTests {
    static func withSink(
        verification: SluiceConfig.Email.Verification = .optional, _ body: (Harness, SMTPSink) async throws -> Void
    ) async throws {
        let sink = try await SMTPSink()
        defer { sink.stop() }
        try await Harness.run(configure: { config in
            sink.configure(&config)
            config.email.verification = verification
        }) { h in try await body(h, sink) }
    }

    static func register(_ h: Harness, _ email: String) async throws -> Harness.Reply {
        try await h.request("/api/auth/register", body: #"{"email":"\#(email)","password":"\#(Harness.password)"}"#, key: nil)
    }

    @Test func registeringMailsAVerificationLinkThatWorksOnce() async throws {
        try await Self.withSink { h, sink in
            let session = try await h.signUp("verify@test.dev")
            let mail = try await sink.mail(1)
            #expect(mail.to == ["verify@test.dev"])
            #expect(mail.tls, "the mail went over STARTTLS")
            #expect(mail.authenticated)
            #expect(mail.content.contains("Subject: Verify your email for Sluice"))
            #expect(mail.content.contains("From: Sluice <noreply@sluice.test>"))
            let path = try #require(mail.linkPath)
            #expect(path.hasPrefix("/api/auth/email/verify?token="))
            #expect(try await h.api("/api/auth/me", as: session).json?["email_verified"] as? Bool == false)
            let followed = try await h.request(path, method: .GET, key: nil)
            #expect(followed.status == 200, "\(followed.text)")
            #expect(followed.json?["email_verified"] as? Bool == true)
            #expect(try await h.request(path, method: .GET, key: nil).errorCode == "invalid_or_expired_token")
            // Verified: resend sends nothing more, and answers as for anyone.
            let resent = try await h.request("/api/auth/email/resend", body: #"{"email":"verify@test.dev"}"#, key: nil)
            #expect(resent.status == 202)
        }
    }

    @Test func requiredVerificationKeepsPasswordSignInClosedUntilTheLinkIsFollowed() async throws {
        try await Self.withSink(verification: .required) { h, sink in
            #expect(try await Self.register(h, "strict@test.dev").status == 201)
            let login = #"{"email":"strict@test.dev","password":"\#(Harness.password)"}"#
            let refused = try await h.request("/api/auth/login", body: login, key: nil)
            #expect(refused.status == 403)
            #expect(refused.errorCode == "email_not_verified")
            // A second mail on request; either link verifies.
            #expect(try await h.request("/api/auth/email/resend", body: #"{"email":"strict@test.dev"}"#, key: nil).status == 202)
            let second = try await sink.mail(2)
            #expect(try await h.request(try #require(second.linkPath), method: .GET, key: nil).status == 200)
            #expect(try await h.request("/api/auth/login", body: login, key: nil).status == 200)
        }
    }

    @Test func resetAnswersAlikeForAnyAddressAndItsLinkSetsThePasswordOnce() async throws {
        try await Self.withSink(verification: .off) { h, sink in
            let session = try await h.signUp("reset@test.dev")
            let unknown = try await h.request("/api/auth/password/forgot", body: #"{"email":"nobody@test.dev"}"#, key: nil)
            let known = try await h.request("/api/auth/password/forgot", body: #"{"email":"reset@test.dev"}"#, key: nil)
            #expect(unknown.status == 202 && known.status == 202)
            #expect(unknown.body == known.body)
            let mail = try await sink.mail(1)
            // The outbox is sent in order: the unknown address, asked first, got nothing.
            #expect(mail.to == ["reset@test.dev"])
            let path = try #require(mail.linkPath)
            let token = try #require(mail.token)
            #expect(path.hasPrefix("/api/auth/password/reset?token="))
            #expect(try await h.request(path, method: .GET, key: nil).json?["valid"] as? Bool == true)

            let short = try await h.request("/api/auth/password/reset", body: #"{"token":"\#(token)","password":"short"}"#, key: nil)
            #expect(short.status == 400)
            let newPassword = "a brand new passphrase"
            let reset = try await h.request("/api/auth/password/reset", body: #"{"token":"\#(token)","password":"\#(newPassword)"}"#, key: nil)
            #expect(reset.status == 204, "\(reset.text)")
            #expect(try await h.api("/api/auth/me", as: session).status == 401, "resetting ends every sign-in")
            #expect(try await h.request("/api/auth/login", body: #"{"email":"reset@test.dev","password":"\#(Harness.password)"}"#, key: nil).status == 401)
            _ = try await h.signIn("reset@test.dev", password: newPassword)
            let again = try await h.request("/api/auth/password/reset", body: #"{"token":"\#(token)","password":"another new one!"}"#, key: nil)
            #expect(again.errorCode == "invalid_or_expired_token")
            #expect(try await h.request(path, method: .GET, key: nil).status == 400)
        }
    }

    @Test func changingTheAddressTakesTheNewOnesConfirmation() async throws {
        try await Self.withSink(verification: .off) { h, sink in
            let session = try await h.signUp("old@test.dev")
            _ = try await h.signUp("taken@test.dev")
            let taken = try await h.api(
                "/api/auth/email/change", method: .POST, body: #"{"email":"taken@test.dev","password":"\#(Harness.password)"}"#, as: session)
            #expect(taken.status == 409)
            let wrong = try await h.api("/api/auth/email/change", method: .POST, body: #"{"email":"new@test.dev","password":"nope nope"}"#, as: session)
            #expect(wrong.status == 401)
            let asked = try await h.api(
                "/api/auth/email/change", method: .POST, body: #"{"email":"new@test.dev","password":"\#(Harness.password)"}"#, as: session)
            #expect(asked.status == 202)
            _ = try await sink.mail(2)
            let mails = sink.mails
            let confirmation = try #require(mails.first { $0.to == ["new@test.dev"] })
            let notice = try #require(mails.first { $0.to == ["old@test.dev"] })
            #expect(notice.content.contains("new@test.dev"))
            #expect(notice.link == nil)
            #expect(try await h.api("/api/auth/me", as: session).json?["email"] as? String == "old@test.dev")
            let confirmed = try await h.request(try #require(confirmation.linkPath), method: .GET, key: nil)
            #expect(confirmed.status == 200, "\(confirmed.text)")
            let me = try await h.api("/api/auth/me", as: session)
            #expect(me.json?["email"] as? String == "new@test.dev")
            #expect(me.json?["email_verified"] as? Bool == true)
        }
    }

    @Test func aServerThatIsDownDelaysMailAndNotTheRequest() async throws {
        let port = try GatewayProcess.freePort()
        let directory = NSTemporaryDirectory() + "smtp-cert-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let certificate = try SMTPSink.makeCertificate(in: directory)
        let logs = LogCapture(level: .notice)
        try await Harness.run(configure: { config in
            config.email.smtpHost = "127.0.0.1"
            config.email.smtpPort = port
            config.email.username = SMTPSink.user
            config.email.password = SMTPSink.password
            config.email.caFile = certificate.cert
            config.email.from = "noreply@sluice.test"
            config.email.pollMillis = 100
            config.email.retryBaseSeconds = 1
            config.email.retryMaxSeconds = 2
        }, logs: logs) { h in
            #expect(try await Self.register(h, "patient@test.dev").status == 201)
            // Nothing listens: the mail waits, tried and tried again.
            try await eventually("a send was tried twice") { logs.text.components(separatedBy: "mail not sent; will retry").count > 2 }
            #expect(try await h.gateway.store.waitingMailCount() == 1)
            let sink = try await SMTPSink(port: port, certificate: certificate)
            defer { sink.stop() }
            let mail = try await sink.mail(1)
            #expect(mail.to == ["patient@test.dev"])
            try await eventually("the outbox empties") { try await h.gateway.store.waitingMailCount() == 0 }
        }
    }

    // MARK: The parts

    @Test func repliesAreCutAtTheirLastLineAndJunkIsRefused() throws {
        var parser = SMTPReplyParser()
        parser.feed(ByteBuffer(string: "250-smtp.test\r\n250-STARTTLS\r\n250 AUTH PLAIN"))
        #expect(try parser.next() == nil)
        parser.feed(ByteBuffer(string: " LOGIN\r\n220 go"))
        let reply = try #require(try parser.next())
        #expect(reply.code == 250)
        #expect(reply.extensions == ["STARTTLS", "AUTH PLAIN LOGIN"])
        #expect(try parser.next() == nil)
        parser.feed(ByteBuffer(string: " ahead\n"))
        #expect(try parser.next() == SMTPReply(code: 220, lines: ["go ahead"]))
        var junk = SMTPReplyParser()
        junk.feed(ByteBuffer(string: "HTTP/1.1 400 Bad Request\r\n"))
        #expect(throws: SMTPError.malformed) { try junk.next() }
        var mixed = SMTPReplyParser()
        mixed.feed(ByteBuffer(string: "250-a\r\n251 b\r\n"))
        #expect(throws: SMTPError.malformed) { try mixed.next() }
        #expect(SMTPError.reply(command: "RCPT TO", SMTPReply(code: 550, lines: ["no"])).isPermanent)
        #expect(!SMTPError.reply(command: "RCPT TO", SMTPReply(code: 451, lines: ["later"])).isPermanent)
    }

    @Test func aMessageCannotEndEarlyOrGrowHeaders() {
        let text = MailMessage.render(
            from: "Sluice <noreply@sluice.test>", to: "a@b.test", subject: "Hi\r\nBcc: evil@x.test", body: "one\n.\n..two", date: Date(timeIntervalSince1970: 0),
            messageID: "m1")
        let lines = text.components(separatedBy: "\r\n")
        #expect(lines.contains("Subject: Hi  Bcc: evil@x.test"))
        #expect(!lines.contains { $0.hasPrefix("Bcc:") })
        #expect(lines.contains("Date: Thu, 01 Jan 1970 00:00:00 +0000"))
        #expect(lines.contains("Message-ID: <m1@sluice.test>"))
        // Dot-stuffed: a lone "." would end DATA.
        #expect(lines.suffix(4) == ["one", "..", "...two", ""])
        let accented = MailMessage.render(from: "a@b.test", to: "c@d.test", subject: "Grüße", body: "é", date: Date(), messageID: "m2")
        #expect(accented.contains("Subject: =?UTF-8?B?\(Data("Grüße".utf8).base64EncodedString())?="))
        #expect(accented.contains("Content-Transfer-Encoding: base64\r\n\r\n\(Data("é".utf8).base64EncodedString())\r\n"))
        #expect(MailMessage.address(in: "Sluice <noreply@sluice.test>") == "noreply@sluice.test")
    }
}
