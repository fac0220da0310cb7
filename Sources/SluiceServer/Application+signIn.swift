import Foundation
import Logging
import ServiceLifecycle
import SluiceProviders
import SluiceStore

/// The mail outbox and the SSO providers, each only when configured.
struct SignInServices {
    var mailer: Mailer?
    /// Drains the outbox; runs as a service while the gateway does.
    var mailSender: MailSender?
    var ssoProviders: [String: SSOProvider] = [:]

    init(_ config: SluiceConfig, store: any GatewayStore, http: UpstreamHTTPClient, logger: Logger) throws {
        let baseURL = config.server.baseURL
        if config.email.enabled {
            let client: SMTPClient
            do { client = try SMTPClient(config.email) } catch {
                throw StartupError("email.ca_file \(config.email.caFile) cannot be read as PEM certificates")
            }
            let logger = logger.with(label: "mail")
            mailer = Mailer(store: store, settings: config.email, baseURL: baseURL, logger: logger)
            mailSender = MailSender(store: store, client: client, settings: config.email, logger: logger)
        }
        for (name, settings) in config.auth.sso.enabled {
            ssoProviders[name] = SSOProvider(name: name, settings: settings, baseURL: baseURL, http: http)
        }
        if config.environment == .development {
            logger.notice("environment is development: POST /api/auth/dev-token signs anyone in from this host")
        }
    }
}
