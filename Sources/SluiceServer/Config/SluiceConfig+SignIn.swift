import Foundation

extension SluiceConfig {
    /// Sign-in through SSO providers. A provider is on when its `client_id` is set.
    public struct SSO: Sendable {
        /// The providers Sluice knows: a generic OpenID Connect issuer and two OAuth 2.0 presets.
        public static let providerNames = ["oidc", "linuxdo", "github"]

        public var providers: [String: SSOProvider] = [
            "oidc": SSOProvider(kind: .oidc, scopes: ["openid", "email", "profile"]),
            "linuxdo": SSOProvider(
                kind: .linuxdo, scopes: ["read"], authorizeURL: "https://connect.linux.do/oauth2/authorize",
                tokenURL: "https://connect.linux.do/oauth2/token", userInfoURL: "https://connect.linux.do/api/user"),
            "github": SSOProvider(
                kind: .github, scopes: ["read:user", "user:email"], authorizeURL: "https://github.com/login/oauth/authorize",
                tokenURL: "https://github.com/login/oauth/access_token", userInfoURL: "https://api.github.com"),
        ]
        /// How long a sign-in may take between initiate and callback.
        public var stateTTLSeconds = 600

        public var enabled: [String: SSOProvider] { providers.filter { $0.value.enabled } }
    }

    public struct SSOProvider: Sendable {
        public enum Kind: String, Sendable {
            /// Discovery, JWKS, an ID token with `nonce`; `email_verified` decides linking.
            case oidc
            /// Linux.do Connect: its user API gives `trust_level` (0 to 4), Sluice's trust level.
            case linuxdo
            /// GitHub: the verified primary address from `/user/emails`.
            case github
        }

        public var kind: Kind
        public var clientID = ""
        public var clientSecret = ""
        public var clientSecretFile = ""
        public var scopes: [String]
        /// `oidc` only: the issuer, whose `/.well-known/openid-configuration` names the endpoints.
        public var issuer = ""
        /// The presets' endpoints, which tests (or a proxy) may replace; for GitHub the user info
        /// URL is the API's base.
        public var authorizeURL = ""
        public var tokenURL = ""
        public var userInfoURL = ""
        /// `linuxdo` only: lower trust levels are refused.
        public var minTrustLevel = 0

        public var enabled: Bool { !clientID.isEmpty }
    }

    /// Mail: verification, password reset and change of email, sent over SMTP from an outbox.
    /// Off while `smtp_host` is empty.
    public struct Email: Sendable {
        public enum Verification: String, Sendable, CaseIterable {
            /// No verification mail.
            case off
            /// A verification mail on register; unverified users may sign in.
            case optional
            /// Unverified users cannot sign in with a password until they follow the link.
            case required
        }

        public enum Security: String, Sendable, CaseIterable {
            /// Plain connection upgraded with STARTTLS before anything else is said; refused if the
            /// server does not offer it.
            case starttls
            /// TLS from the first byte (port 465).
            case tls
            /// No TLS, for a relay on the same host; not allowed with a username.
            case none
        }

        public var smtpHost = ""
        public var smtpPort = 587
        public var security = Security.starttls
        public var username = ""
        public var password = ""
        public var passwordFile = ""
        /// PEM roots that the server's certificate may chain to instead of the system's.
        public var caFile = ""
        /// The `From:` address.
        public var from = ""
        public var verification = Verification.optional
        public var verifyTTLHours = 24
        public var resetTTLMinutes = 60
        /// Mails waiting at most; past it new mail is dropped (and logged) rather than queued.
        public var outboxLimit = 10_000
        public var pollMillis = 1000
        public var retryBaseSeconds = 30
        public var retryMaxSeconds = 3600
        /// Attempts before a mail is given up on.
        public var maxAttempts = 10
        public var timeoutSeconds = 30

        public var enabled: Bool { !smtpHost.isEmpty }
    }
}
