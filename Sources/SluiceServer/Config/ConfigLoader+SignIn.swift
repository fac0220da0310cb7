import Foundation

extension ConfigLoader {
    static let signInKeys: [Key] = [
        Key(path: "server.public_url") { config, value, source in
            guard value.isEmpty || URL(string: value).map({ ["http", "https"].contains($0.scheme ?? "") && $0.host != nil }) == true else {
                throw Error(description: "\(source): server.public_url must be an http or https URL such as https://gateway.example.com")
            }
            config.server.publicURL = value.hasSuffix("/") ? String(value.dropLast()) : value
        },
        int("auth.sso.state_ttl_seconds", min: 60, max: 3600) { $0.auth.sso.stateTTLSeconds = $1 },
    ] + SluiceConfig.SSO.providerNames.flatMap(ssoProviderKeys) + emailKeys

    static func ssoProviderKeys(_ name: String) -> [Key] {
        let p = "auth.sso.\(name)"
        var keys = [
            string("\(p).client_id") { $0.auth.sso.providers[name]?.clientID = $1 },
            string("\(p).client_secret") { $0.auth.sso.providers[name]?.clientSecret = $1 },
            string("\(p).client_secret_file") { $0.auth.sso.providers[name]?.clientSecretFile = $1 },
            string("\(p).scopes") { config, value in
                config.auth.sso.providers[name]?.scopes = value.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
            },
        ]
        if name == "oidc" {
            keys.append(url("\(p).issuer") { $0.auth.sso.providers[name]?.issuer = $1 })
        } else {
            keys += [
                url("\(p).authorize_url") { $0.auth.sso.providers[name]?.authorizeURL = $1 },
                url("\(p).token_url") { $0.auth.sso.providers[name]?.tokenURL = $1 },
                url("\(p).\(name == "github" ? "api_url" : "userinfo_url")") { $0.auth.sso.providers[name]?.userInfoURL = $1 },
            ]
        }
        if name == "linuxdo" { keys.append(int("\(p).min_trust_level", min: 0, max: 4) { $0.auth.sso.providers[name]?.minTrustLevel = $1 }) }
        return keys
    }

    static let emailKeys: [Key] = [
        string("email.smtp_host") { $0.email.smtpHost = $1 },
        int("email.smtp_port", min: 1, max: 65535) { $0.email.smtpPort = $1 },
        choice("email.security", SluiceConfig.Email.Security.self) { $0.email.security = $1 },
        string("email.username") { $0.email.username = $1 },
        string("email.password") { $0.email.password = $1 },
        string("email.password_file") { $0.email.passwordFile = $1 },
        string("email.ca_file") { $0.email.caFile = $1 },
        Key(path: "email.from") { config, value, source in
            guard value.isEmpty || AuthRoutes.looksLikeEmail(MailMessage.address(in: value)) else {
                throw Error(description: "\(source): email.from must be an address, or a name and <address>, got \(value)")
            }
            config.email.from = value
        },
        choice("email.verification", SluiceConfig.Email.Verification.self) { $0.email.verification = $1 },
        int("email.verify_ttl_hours", min: 1, max: 720) { $0.email.verifyTTLHours = $1 },
        int("email.reset_ttl_minutes", min: 5, max: 1440) { $0.email.resetTTLMinutes = $1 },
        int("email.outbox_limit", min: 1) { $0.email.outboxLimit = $1 },
        int("email.poll_millis", min: 50, max: 60_000) { $0.email.pollMillis = $1 },
        int("email.retry_base_seconds", min: 1, max: 3600) { $0.email.retryBaseSeconds = $1 },
        int("email.retry_max_seconds", min: 1, max: 86_400) { $0.email.retryMaxSeconds = $1 },
        int("email.max_attempts", min: 1, max: 100) { $0.email.maxAttempts = $1 },
        int("email.timeout_seconds", min: 1, max: 600) { $0.email.timeoutSeconds = $1 },
    ]

    static func url(_ path: String, _ set: @escaping @Sendable (inout SluiceConfig, String) -> Void) -> Key {
        Key(path: path) { config, value, source in
            guard value.isEmpty || URL(string: value).map({ ["http", "https"].contains($0.scheme ?? "") && $0.host != nil }) == true else {
                throw Error(description: "\(source): \(path) must be an http or https URL, got \(value)")
            }
            set(&config, value.hasSuffix("/") ? String(value.dropLast()) : value)
        }
    }

    static func choice<T: RawRepresentable & CaseIterable & Sendable>(
        _ path: String, _ type: T.Type, _ set: @escaping @Sendable (inout SluiceConfig, T) -> Void
    ) -> Key where T.RawValue == String {
        Key(path: path) { config, value, source in
            guard let choice = T(rawValue: value) else {
                throw Error(description: "\(source): \(path) must be one of \(T.allCases.map(\.rawValue).joined(separator: ", ")), got \(value)")
            }
            set(&config, choice)
        }
    }

    /// Reads the sign-in secrets that may come from files, and checks what only makes sense together.
    static func finishSignIn(_ config: inout SluiceConfig) throws {
        for name in SluiceConfig.SSO.providerNames {
            guard var provider = config.auth.sso.providers[name], provider.enabled else { continue }
            if provider.clientSecret.isEmpty, !provider.clientSecretFile.isEmpty {
                provider.clientSecret = try secretFile(provider.clientSecretFile, key: "auth.sso.\(name).client_secret_file")
            }
            guard !provider.clientSecret.isEmpty else { throw Error(description: "auth.sso.\(name).client_id is set but its client_secret is not") }
            if provider.kind == .oidc, provider.issuer.isEmpty {
                throw Error(description: "auth.sso.oidc.client_id is set but auth.sso.oidc.issuer is not")
            }
            config.auth.sso.providers[name] = provider
        }
        var email = config.email
        if email.password.isEmpty, !email.passwordFile.isEmpty { email.password = try secretFile(email.passwordFile, key: "email.password_file") }
        if email.enabled {
            guard !email.from.isEmpty else { throw Error(description: "email.smtp_host is set but email.from is not") }
            if email.security == .none, !email.username.isEmpty {
                throw Error(description: "email.security none would send email.username's password in the clear: use starttls or tls")
            }
        } else if email.verification == .required {
            throw Error(description: "email.verification is required but email.smtp_host is not set: no one could verify")
        }
        config.email = email
    }
}
