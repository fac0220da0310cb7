import HTTPTypes
import Hummingbird
import SluiceCore

/// The router, answering a known path asked with a method it does not serve (a wrong method, or
/// a browser's `OPTIONS` preflight from an origin `server.cors` does not allow) with 405 and an `Allow` header, as
/// HTTP and the OpenAPI document say, where Hummingbird's router answers 404.
struct MethodCheckingRouter: HTTPResponderBuilder {
    let router: Router<SluiceRequestContext>

    func buildResponder() -> Responder {
        Responder(inner: router.buildResponder(), allowed: AllowedMethods(router.routes.map { ($0.path, $0.method) }))
    }

    struct Responder: HTTPResponder {
        let inner: RouterResponder<SluiceRequestContext>
        let allowed: AllowedMethods

        func respond(to request: Request, context: SluiceRequestContext) async throws -> Response {
            let response = try await inner.respond(to: request, context: context)
            guard response.status == .notFound, let methods = allowed.methods(for: request.uri.path), !methods.contains(request.method) else {
                return response
            }
            // In the route's own error shape: Anthropic's under /v1/messages, Google's under /v1beta.
            let error = GatewayError.methodNotAllowed()
            var refusal: Response
            if request.uri.path.hasPrefix("/v1/messages") {
                refusal = MessagesAPI().anthropicError(error)
            } else if request.uri.path.hasPrefix("/v1beta/") {
                refusal = GeminiAPI().googleError(error)
            } else {
                refusal = error.response(body: error.jsonBody)
            }
            refusal.headers[.requestID] = context.requestID
            refusal.headers[.allow] = methods.map(\.rawValue).sorted().joined(separator: ", ")
            return refusal
        }
    }
}

/// The methods each registered path answers.
struct AllowedMethods: Sendable {
    private let paths: [(path: RouterPath, methods: Set<HTTPRequest.Method>)]

    init(_ routes: [(RouterPath, HTTPRequest.Method)]) {
        var byPath: [String: (path: RouterPath, methods: Set<HTTPRequest.Method>)] = [:]
        for (path, method) in routes { byPath[path.description, default: (path, [])].methods.insert(method) }
        paths = byPath.values.sorted { $0.path.description < $1.path.description }
    }

    /// The methods of the registered path `path` matches, joined when it matches several; nil
    /// when it matches none.
    func methods(for path: String) -> Set<HTTPRequest.Method>? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        let matched = paths.filter { Self.matches($0.path, segments) }
        return matched.isEmpty ? nil : matched.reduce(into: Set()) { $0.formUnion($1.methods) }
    }

    private static func matches(_ path: RouterPath, _ segments: [Substring]) -> Bool {
        let components = path.components
        for (index, component) in components.enumerated() {
            if component.description == "**" { return true }
            guard index < segments.count, component ~= segments[index] else { return false }
        }
        return components.count == segments.count
    }
}
