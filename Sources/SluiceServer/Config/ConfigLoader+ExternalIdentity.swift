import Foundation

extension ConfigLoader {
    static let externalIdentityKeys: [Key] = [
        Key(path: "auth.external.issuer") { config, value, source in
            guard value.isEmpty || URL(string: value)?.scheme.map({ ["http", "https"].contains($0) }) == true else {
                throw Error(description: "\(source): auth.external.issuer must be the issuer's URL, such as https://tenant.auth0.com/")
            }
            config.auth.external.issuer = value
        },
        string("auth.external.audience") { $0.auth.external.audience = $1 },
        string("auth.external.jwks_url") { $0.auth.external.jwksURLOverride = $1 },
        int("auth.external.jwks_refresh_seconds", min: 60, max: 86_400) { $0.auth.external.jwksRefreshSeconds = $1 },
        int("auth.external.leeway_seconds", min: 0, max: 300) { $0.auth.external.leewaySeconds = $1 },
    ]
}
