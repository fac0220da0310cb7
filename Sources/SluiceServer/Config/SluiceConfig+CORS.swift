import Foundation

extension SluiceConfig {
    /// Which deployment this is. Production refuses what is only safe on a developer's machine.
    public enum Environment: String, Sendable, CaseIterable {
        case development, production
    }

    /// Cross-origin requests from browsers (a chat frontend on another origin) to `/v1`,
    /// `/v1beta` and `/api`. No allowed origin (the default): no CORS header is ever sent and
    /// the middleware is not installed.
    public struct CORS: Sendable {
        /// Exact origins (`https://chat.example.com`), patterns with one `*` standing for one or
        /// more host labels (`https://*.example.com`), or `*` for any origin.
        public var allowedOrigins: [String] = []
        public var allowedMethods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        /// `*`: whatever the preflight asks for (the OpenAI SDK in a browser sends a dozen
        /// `x-stainless-*` headers).
        public var allowedHeaders = ["*"]
        /// Response headers a page's script may read.
        public var exposedHeaders = ["x-request-id", "retry-after", "x-should-retry"]
        /// Whether the browser sends cookies and may read the answer to a credentialed request.
        public var allowCredentials = false
        /// How long a browser may reuse a preflight's answer.
        public var maxAgeSeconds = 600
    }
}

extension SluiceConfig {
    /// `/docs` and `/openapi.json`: on unless production turns them off, or `server.api_docs` says.
    public var serveAPIDocs: Bool { server.apiDocs ?? (environment != .production) }
}
