import Foundation
import Logging
import ServiceLifecycle
import SluiceStore

/// What routes use to send mail: it goes into the store's outbox and the request goes on. A
/// full outbox or a store that cannot take the mail is logged, never an error for the caller:
/// the answer to "reset my password" must not depend on mail, or it would tell who has an account.
struct Mailer: Sendable {
    let store: any GatewayStore
    let settings: SluiceConfig.Email
    /// Where links in mail point: `server.public_url`.
    let baseURL: String
    let logger: Logger

    func send(_ mail: OutgoingMail) async {
        do {
            guard try await store.enqueueMail(mail, limit: settings.outboxLimit, now: Date()) else {
                logger.warning("mail outbox is full; a mail was dropped", metadata: ["limit": "\(settings.outboxLimit)", "subject": "\(mail.subject)"])
                return
            }
        } catch {
            logger.warning("mail not queued", metadata: ["error": "\(error)", "subject": "\(mail.subject)"])
        }
    }

    func link(_ path: String, token: String) -> String { "\(baseURL)\(path)?token=\(token)" }
}

/// Drains the mail outbox over SMTP, off every request's path: every `poll` it leases the due
/// mail (so other instances leave it alone), sends each on its own connection, and records the
/// outcome. A failure is retried with exponential backoff until `max_attempts`; a 5xx refusal
/// is final at once. An SMTP server that is down delays mail and nothing else, and the outbox
/// survives a restart.
final class MailSender: Service, Sendable {
    private let store: any GatewayStore
    private let client: SMTPClient
    private let settings: SluiceConfig.Email
    private let logger: Logger

    init(store: any GatewayStore, client: SMTPClient, settings: SluiceConfig.Email, logger: Logger) {
        self.store = store
        self.client = client
        self.settings = settings
        self.logger = logger
    }

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while true {
                await self.pass()
                try await Task.sleep(for: .milliseconds(self.settings.pollMillis))
            }
        }
    }

    func pass(now: Date = Date()) async {
        do {
            // A lease outlives the slowest send of the batch.
            let lease = now.addingTimeInterval(TimeInterval(settings.timeoutSeconds * 17))
            for queued in try await store.claimDueMail(now: now, until: lease, limit: 16) {
                try Task.checkCancellation()
                let outcome = await send(queued)
                do { try await store.finishMail(id: queued.id, outcome) } catch {
                    // The lease lapses and the mail is sent again: at least once, never lost.
                    logger.warning("mail outcome not saved", metadata: ["mail": "\(queued.id)", "error": "\(error)"])
                }
            }
        } catch is CancellationError {
            return
        } catch {
            logger.warning("mail pass failed; the next one retries", metadata: ["error": "\(error)"])
        }
    }

    private func send(_ queued: QueuedMail) async -> MailOutcome {
        let sender = MailMessage.address(in: settings.from)
        let message = MailMessage.render(
            from: settings.from, to: queued.mail.recipient, subject: queued.mail.subject, body: queued.mail.body, date: queued.createdAt,
            messageID: "sluice.\(queued.id).\(Int64(queued.createdAt.timeIntervalSince1970))")
        do {
            try await client.send(from: sender, to: queued.mail.recipient, message: message)
            logger.info("mail sent", metadata: ["mail": "\(queued.id)", "attempt": "\(queued.attempts)"])
            return .sent(at: Date())
        } catch {
            let now = Date()
            if error.isPermanent || queued.attempts >= settings.maxAttempts {
                logger.error("mail given up", metadata: ["mail": "\(queued.id)", "attempts": "\(queued.attempts)", "error": "\(error)"])
                return .failed(error: error.description, at: now)
            }
            let wait = min(Double(settings.retryBaseSeconds) * pow(2, Double(queued.attempts - 1)), Double(settings.retryMaxSeconds))
            logger.notice("mail not sent; will retry", metadata: ["mail": "\(queued.id)", "retry_in_seconds": "\(Int(wait))", "error": "\(error)"])
            return .retry(error: error.description, at: now.addingTimeInterval(wait))
        }
    }
}
