import Foundation
import NIOCore
import NIOHTTP1

/// What an OAuth account's sealed secret holds: JSON with `access_token`, `refresh_token` and,
/// when known, `expires_at` in Unix seconds. `client_id` and `client_secret` name the OAuth
/// client the tokens were issued to, when it is the account's own rather than the manifest's:
/// Google's token endpoint refreshes only with the issuing client's id and secret.
public struct OAuthTokens: Sendable, Equatable, Codable {
    public var accessToken: String
    public var refreshToken: String
    /// nil: the provider did not say; the token is then refreshed only after a 401.
    public var expiresAt: Date?
    public var clientID: String?
    public var clientSecret: String?

    public init(accessToken: String, refreshToken: String, expiresAt: Date?, clientID: String? = nil, clientSecret: String? = nil) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.expiresAt = expiresAt
        self.clientID = clientID
        self.clientSecret = clientSecret
    }

    enum CodingKeys: String, CodingKey {
        case accessToken = "access_token"
        case refreshToken = "refresh_token"
        case expiresAt = "expires_at"
        case clientID = "client_id"
        case clientSecret = "client_secret"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        accessToken = try container.decode(String.self, forKey: .accessToken)
        refreshToken = try container.decode(String.self, forKey: .refreshToken)
        expiresAt = try container.decodeIfPresent(Double.self, forKey: .expiresAt).map(Date.init(timeIntervalSince1970:))
        clientID = try container.decodeIfPresent(String.self, forKey: .clientID)
        clientSecret = try container.decodeIfPresent(String.self, forKey: .clientSecret)
        guard !accessToken.isEmpty, !refreshToken.isEmpty else {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "empty token"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(accessToken, forKey: .accessToken)
        try container.encode(refreshToken, forKey: .refreshToken)
        try container.encodeIfPresent(expiresAt.map { $0.timeIntervalSince1970.rounded() }, forKey: .expiresAt)
        try container.encodeIfPresent(clientID, forKey: .clientID)
        try container.encodeIfPresent(clientSecret, forKey: .clientSecret)
    }

    /// Reads a secret; nil when it is not the JSON above.
    public static func parse(_ secret: String) -> OAuthTokens? {
        try? JSONDecoder().decode(OAuthTokens.self, from: Data(secret.utf8))
    }

    /// The form the sealed secret stores.
    public var secret: String {
        // Encoding plain string and number fields cannot fail.
        (try? String(decoding: JSONEncoder().encode(self), as: UTF8.self)) ?? ""
    }

    /// Whether the access token expires within `margin` of `now` (never, when the expiry is unknown).
    public func expires(within margin: TimeInterval, now: Date) -> Bool {
        expiresAt.map { $0.timeIntervalSince(now) <= margin } ?? false
    }
}

/// Why an OAuth account cannot be made of a secret at a provider: the one rule the API and the
/// command line both apply.
public enum OAuthAccountProblem: Sendable, Equatable {
    /// The provider's manifest names no `oauth.token_url`.
    case noTokenEndpoint
    /// The secret is not the tokens' JSON (see `OAuthTokens`).
    case notTokens

    /// nil: `secret` can be an OAuth account of `manifest`'s provider.
    public static func check(secret: String, at manifest: ProviderManifest?) -> OAuthAccountProblem? {
        guard manifest?.oauth != nil else { return .noTokenEndpoint }
        return OAuthTokens.parse(secret) == nil ? .notTokens : nil
    }
}

/// How a refresh at the provider's token endpoint ended.
public enum OAuthRefreshResult: Sendable, Equatable {
    case refreshed(OAuthTokens)
    /// `invalid_grant`: the refresh token is no longer valid; only its owner can sign in again.
    case invalidGrant
    /// Anything else (unreachable, 5xx, a body without a token): worth trying again later.
    case failed(String)
}

/// Refreshes access tokens with the OAuth 2.0 refresh-token grant (RFC 6749 §6).
public struct OAuthTokenClient: Sendable {
    private let http: UpstreamHTTPClient

    public init(http: UpstreamHTTPClient) { self.http = http }

    public func refresh(
        _ tokens: OAuthTokens, at endpoint: ProviderManifest.OAuth, through proxy: UpstreamProxy? = nil, now: Date = Date()
    ) async -> OAuthRefreshResult {
        var form = [("grant_type", "refresh_token"), ("refresh_token", tokens.refreshToken)]
        if let clientID = tokens.clientID ?? endpoint.clientID { form.append(("client_id", clientID)) }
        if let clientSecret = tokens.clientSecret { form.append(("client_secret", clientSecret)) }
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
        headers.add(name: "accept", value: "application/json")
        let status: Int
        let body: Data
        do {
            let response = try await http.execute(
                .POST, url: endpoint.tokenURL, headers: headers, body: ByteBuffer(string: Self.formEncoded(form)), headTimeout: .seconds(30),
                proxy: proxy)
            status = response.status
            body = Data(try await response.body.collect(upTo: 64 << 10).readableBytesView)
        } catch {
            return .failed("token endpoint unreachable (\(type(of: error)))")
        }
        return Self.interpret(status: status, body: body, previous: tokens, now: now)
    }

    /// Reads a token endpoint's answer. A response without a new refresh token keeps the old one,
    /// as RFC 6749 §6 allows.
    static func interpret(status: Int, body: Data, previous: OAuthTokens, now: Date) -> OAuthRefreshResult {
        let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        guard (200..<300).contains(status) else {
            if object?["error"] as? String == "invalid_grant" { return .invalidGrant }
            return .failed("token endpoint answered HTTP \(status)")
        }
        guard let access = object?["access_token"] as? String, !access.isEmpty else {
            return .failed("token endpoint answered without an access_token")
        }
        let refresh = (object?["refresh_token"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? previous.refreshToken
        let expiresIn = (object?["expires_in"] as? NSNumber)?.doubleValue
        return .refreshed(OAuthTokens(
            accessToken: access, refreshToken: refresh, expiresAt: expiresIn.map { now.addingTimeInterval($0) },
            clientID: previous.clientID, clientSecret: previous.clientSecret))
    }

    public static func formEncoded(_ pairs: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return pairs.map { name, value in
            "\(name)=\(value.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")"
        }.joined(separator: "&")
    }
}
