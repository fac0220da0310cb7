import Foundation
import NIOCore
import NIOPosix
import NIOSSL

/// Sends one mail per connection (RFC 5321): greeting, EHLO, STARTTLS and EHLO again, AUTH
/// PLAIN or LOGIN when a username is configured, MAIL, RCPT, DATA, QUIT. Every step waits for
/// its reply, and the whole conversation is bounded by `timeout`.
struct SMTPClient: Sendable {
    let host: String
    let port: Int
    let security: SluiceConfig.Email.Security
    let username: String
    let password: String
    let timeout: Duration
    /// Made once: building a context reads the trust roots.
    let tls: NIOSSLContext?

    init(_ settings: SluiceConfig.Email) throws {
        host = settings.smtpHost
        port = settings.smtpPort
        security = settings.security
        username = settings.username
        password = settings.password
        timeout = .seconds(settings.timeoutSeconds)
        guard settings.security != .none else {
            tls = nil
            return
        }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if !settings.caFile.isEmpty { configuration.trustRoots = .file(settings.caFile) }
        tls = try NIOSSLContext(configuration: configuration)
    }

    /// Sends `message` (rendered by `MailMessage`) from `sender` to `recipient`, bare addresses.
    func send(from sender: String, to recipient: String, message: String) async throws(SMTPError) {
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.converse(from: sender, to: recipient, message: message) }
                group.addTask {
                    try await Task.sleep(for: self.timeout)
                    throw SMTPError.timedOut
                }
                // The first to finish decides; the other is cancelled (closing the connection).
                defer { group.cancelAll() }
                _ = try await group.next()
            }
        } catch let error as SMTPError {
            throw error
        } catch {
            throw .closed
        }
    }

    private func converse(from sender: String, to recipient: String, message: String) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(Int64(min(timeout.components.seconds, 30))))
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    if security == .tls { try addTLS(to: channel) }
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        try await channel.executeThenClose { inbound, outbound in
            var conversation = Conversation(inbound: inbound.makeAsyncIterator(), outbound: outbound)
            try await conversation.expect("greeting", nil)
            var hello = try await conversation.command("EHLO", "EHLO sluice")
            if security == .starttls {
                guard hello.extensions.contains(where: { $0 == "STARTTLS" }) else { throw SMTPError.noStartTLS }
                _ = try await conversation.command("STARTTLS", "STARTTLS")
                // Nothing is buffered past the 220: the server says nothing more until the handshake.
                try await channel.channel.eventLoop.submit { try addTLS(to: channel.channel) }.get()
                hello = try await conversation.command("EHLO", "EHLO sluice")
            }
            if !username.isEmpty { try await authenticate(&conversation, offered: hello.extensions) }
            _ = try await conversation.command("MAIL FROM", "MAIL FROM:<\(sender)>")
            _ = try await conversation.command("RCPT TO", "RCPT TO:<\(recipient)>")
            _ = try await conversation.command("DATA", "DATA")
            try await conversation.expect("the message", message + ".\r\n")
            // The mail is accepted; a server that drops the line before answering QUIT is fine.
            _ = try? await conversation.command("QUIT", "QUIT")
        }
    }

    private func authenticate(_ conversation: inout Conversation, offered: [String]) async throws {
        let mechanisms = Set(offered.filter { $0.hasPrefix("AUTH") }.flatMap { $0.split(whereSeparator: { $0 == " " || $0 == "=" }).dropFirst() }.map(String.init))
        if mechanisms.contains("PLAIN") {
            let token = Data("\0\(username)\0\(password)".utf8).base64EncodedString()
            _ = try await conversation.command("AUTH PLAIN", "AUTH PLAIN \(token)")
        } else if mechanisms.contains("LOGIN") {
            _ = try await conversation.command("AUTH LOGIN", "AUTH LOGIN")
            _ = try await conversation.command("AUTH LOGIN", Data(username.utf8).base64EncodedString())
            _ = try await conversation.command("AUTH LOGIN", Data(password.utf8).base64EncodedString())
        } else {
            throw SMTPError.noAuthMechanism
        }
    }

    /// Puts TLS in front of everything else on the channel: for `.tls` at connect, for
    /// `.starttls` after the server's 220.
    private func addTLS(to channel: any Channel) throws {
        guard let tls else { return }
        // SNI and certificate names are for host names; an address is checked against the IP SAN.
        let name = host.isIPAddress ? nil : host
        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tls, serverHostname: name), position: .first)
    }

    /// The line in both directions: commands out, replies parsed as they come in.
    struct Conversation {
        var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
        var parser = SMTPReplyParser()

        /// Sends `line` and wants a positive reply. The command's name, not the line, goes into
        /// errors: the line may hold the password.
        mutating func command(_ name: String, _ line: String) async throws -> SMTPReply {
            try await expect(name, line + "\r\n")
        }

        @discardableResult
        mutating func expect(_ name: String, _ text: String?) async throws -> SMTPReply {
            if let text { try await outbound.write(ByteBuffer(string: text)) }
            while true {
                if let reply = try parser.next() {
                    guard reply.isPositive else { throw SMTPError.reply(command: name, reply) }
                    return reply
                }
                guard let bytes = try await inbound.next() else { throw SMTPError.closed }
                parser.feed(bytes)
            }
        }
    }
}

extension String {
    /// Whether the string is a literal IPv4 or IPv6 address.
    var isIPAddress: Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, self, &v4) == 1 || inet_pton(AF_INET6, self, &v6) == 1
    }
}
