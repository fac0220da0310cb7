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

/// Speaks the OpenAI chat wire protocol to an upstream, over the shared upstream client.
///
/// It sends bytes and hands back a streaming body: it never buffers a response and never decodes one.
public struct OpenAICompatibleClient: Sendable {
    private let http: UpstreamHTTPClient

    public init(http: UpstreamHTTPClient) { self.http = http }

    /// Sends a chat completion request. Waits at most `headTimeout` for the response head; after that
    /// the body streams, bounded by the client's idle read timeout.
    public func chatCompletions(
        _ body: ByteBuffer, stream: Bool, to target: UpstreamTarget, headTimeout: TimeAmount
    ) async throws -> UpstreamResponse {
        var headers = HTTPHeaders()
        headers.add(name: "content-type", value: "application/json")
        headers.add(name: "accept", value: stream ? "text/event-stream" : "application/json")
        Self.authorize(&headers, target: target)
        return try await http.execute(
            .POST, url: Self.join(target.baseURL, "chat/completions"), headers: headers, body: body, headTimeout: headTimeout)
    }

    static func authorize(_ headers: inout HTTPHeaders, target: UpstreamTarget) {
        switch (target.credential, target.auth) {
        case (.apiKey(let key), .bearer): headers.replaceOrAdd(name: "authorization", value: "Bearer \(key)")
        case (.apiKey(let key), .header(let name)): headers.replaceOrAdd(name: name, value: key)
        case (.cookie(let cookie), _): headers.replaceOrAdd(name: "cookie", value: cookie)
        case (.oauth(let tokens), _): headers.replaceOrAdd(name: "authorization", value: "Bearer \(tokens.accessToken)")
        }
    }

    static func join(_ base: String, _ path: String) -> String {
        base.hasSuffix("/") ? base + path : base + "/" + path
    }
}
