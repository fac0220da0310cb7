import Foundation
import NIOCore
import NIOHTTP1
import SluiceCore

/// How an account proves itself to its provider.
public enum UpstreamCredential: Sendable, Equatable {
    case apiKey(String)
    /// A browser session: the whole `Cookie` header value.
    case cookie(String)
    /// An OAuth access token, sent as a bearer token whatever the manifest's key style.
    case oauth(OAuthTokens)
}

/// Where and as whom one upstream call goes.
public struct UpstreamTarget: Sendable {
    public var baseURL: String
    public var auth: ProviderManifest.AuthStyle
    public var credential: UpstreamCredential

    public init(baseURL: String, auth: ProviderManifest.AuthStyle, credential: UpstreamCredential) {
        self.baseURL = baseURL
        self.auth = auth
        self.credential = credential
    }

    /// Adds the credential in the style the manifest names; an OAuth token is always a bearer token.
    public func authorize(_ headers: inout HTTPHeaders) {
        switch (credential, auth) {
        case (.apiKey(let key), .bearer): headers.replaceOrAdd(name: "authorization", value: "Bearer \(key)")
        case (.apiKey(let key), .header(let name)): headers.replaceOrAdd(name: name, value: key)
        case (.cookie(let cookie), _): headers.replaceOrAdd(name: "cookie", value: cookie)
        case (.oauth(let tokens), _): headers.replaceOrAdd(name: "authorization", value: "Bearer \(tokens.accessToken)")
        }
    }

    /// `path` under the base URL, with exactly one slash between them.
    public func url(_ path: String) -> String {
        baseURL.hasSuffix("/") ? baseURL + path : baseURL + "/" + path
    }
}

/// An upstream response whose head has arrived and whose body is still streaming.
public struct UpstreamResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: UpstreamBody
}

/// The call failed before a response head arrived.
public enum UpstreamTransportError: Error, Sendable, Equatable {
    case connect(String)
    case timeout
}
