import HTTPTypes
import Hummingbird

/// Who may call Sluice from a page on another origin, and what the browser is told. Origins are
/// compared case-insensitively; the allowed origin is echoed (never `*`), with `Vary: Origin`, so
/// the answer is right with credentials too and caches keep origins apart.
struct CORSPolicy: Sendable {
    private enum Rule: Sendable {
        case any
        case exact(String)
        /// `scheme://` + one or more host labels + the rest, for a pattern such as `https://*.example.com`.
        case wildcard(prefix: String, suffix: String)
    }

    private let rules: [Rule]
    private let methods: String
    /// Nil: echo what the preflight asks for.
    private let headers: String?
    private let exposed: String?
    private let credentials: Bool
    private let maxAge: String

    /// Nil when no origin is allowed: CORS is off.
    init?(_ config: SluiceConfig.CORS) {
        guard !config.allowedOrigins.isEmpty else { return nil }
        rules = config.allowedOrigins.map { origin in
            let origin = origin.lowercased()
            if origin == "*" { return .any }
            guard let star = origin.firstIndex(of: "*") else { return .exact(origin) }
            return .wildcard(prefix: String(origin[..<star]), suffix: String(origin[origin.index(after: star)...]))
        }
        methods = config.allowedMethods.joined(separator: ", ")
        headers = config.allowedHeaders.contains("*") ? nil : config.allowedHeaders.joined(separator: ", ")
        exposed = config.exposedHeaders.isEmpty ? nil : config.exposedHeaders.joined(separator: ", ")
        credentials = config.allowCredentials
        maxAge = String(config.maxAgeSeconds)
    }

    /// `scheme://host[:port]` with at most one `*`, which must stand for the leading host labels.
    static func isValidOriginPattern(_ origin: String) -> Bool {
        let parts = origin.split(separator: "://", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, ["http", "https"].contains(parts[0].lowercased()), !parts[1].isEmpty, !parts[1].contains("/") else { return false }
        let host = parts[1]
        let stars = host.filter { $0 == "*" }.count
        return stars == 0 || (stars == 1 && host.hasPrefix("*.") && host.count > 2)
    }

    /// The routes a browser may call from elsewhere: the gateway's and the API's.
    static func covers(_ path: String) -> Bool {
        path.hasPrefix("/v1/") || path.hasPrefix("/v1beta/") || path.hasPrefix("/api/")
    }

    func allows(_ origin: String) -> Bool {
        let origin = origin.lowercased()
        return rules.contains { rule in
            switch rule {
            case .any: true
            case .exact(let allowed): origin == allowed
            case .wildcard(let prefix, let suffix):
                origin.count > prefix.count + suffix.count && origin.hasPrefix(prefix) && origin.hasSuffix(suffix)
                    && origin.dropFirst(prefix.count).dropLast(suffix.count).allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." }
            }
        }
    }

    /// The answer to an allowed origin's preflight.
    func preflight(origin: String, requestedHeaders: String?) -> Response {
        var fields: HTTPFields = [.accessControlAllowOrigin: origin, .vary: "Origin", .accessControlAllowMethods: methods, .accessControlMaxAge: maxAge]
        if let allowed = headers ?? requestedHeaders { fields[.accessControlAllowHeaders] = allowed }
        if credentials { fields[.accessControlAllowCredentials] = "true" }
        return Response(status: .noContent, headers: fields)
    }

    /// What an allowed origin's actual request carries back.
    func decorate(_ fields: inout HTTPFields, origin: String) {
        fields[.accessControlAllowOrigin] = origin
        fields.append(HTTPField(name: .vary, value: "Origin"))
        if let exposed { fields[.accessControlExposeHeaders] = exposed }
        if credentials { fields[.accessControlAllowCredentials] = "true" }
    }
}

/// Answers allowed origins' preflights on `/v1`, `/v1beta` and `/api`, and adds the CORS headers to
/// their answers, errors and streams included (headers go out before a stream's first byte). A
/// request without `Origin` passes untouched; a disallowed origin gets no CORS header at all, so
/// its page cannot read the answer. Installed only when `server.cors.allowed_origins` is set.
struct CORSMiddleware: RouterMiddleware {
    typealias Context = SluiceRequestContext
    let policy: CORSPolicy

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin], CORSPolicy.covers(request.uri.path) else { return try await next(request, context) }
        guard policy.allows(origin) else {
            var response = try await next(request, context)
            response.headers.append(HTTPField(name: .vary, value: "Origin"))
            return response
        }
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            var response = policy.preflight(origin: origin, requestedHeaders: request.headers[.accessControlRequestHeaders])
            response.headers[.requestID] = context.requestID
            return response
        }
        var response: Response
        do { response = try await next(request, context) } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        policy.decorate(&response.headers, origin: origin)
        return response
    }
}
