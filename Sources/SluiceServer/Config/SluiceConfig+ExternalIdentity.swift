import Foundation

extension SluiceConfig {
    /// Tokens from an outside identity provider (Auth0, any OIDC issuer) that `/api` accepts as
    /// a sign-in, for the user whose external id is the token's subject. Off while `issuer` is empty.
    public struct ExternalIdentity: Sendable {
        /// The `iss` tokens must carry, exactly (Auth0's ends with a slash).
        public var issuer = ""
        /// An `aud` tokens must include.
        public var audience = ""
        /// Empty: `<issuer>/.well-known/jwks.json`, where Auth0 and most issuers publish their keys.
        public var jwksURLOverride = ""
        public var jwksRefreshSeconds = 3600
        /// Clock skew allowed on `exp` and `nbf`.
        public var leewaySeconds = 30

        public var enabled: Bool { !issuer.isEmpty }

        public var jwksURL: String {
            guard jwksURLOverride.isEmpty else { return jwksURLOverride }
            return (issuer.hasSuffix("/") ? issuer : issuer + "/") + ".well-known/jwks.json"
        }
    }
}
