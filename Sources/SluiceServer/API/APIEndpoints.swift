import Foundation
import HTTPTypes
import Hummingbird

/// A JSON Schema, as small as `/openapi.json` needs.
indirect enum Schema: Sendable {
    case string(format: String? = nil, values: [String]? = nil)
    case integer
    case number
    case boolean
    case array(Schema)
    case object([(String, Schema)], required: [String] = [])
    /// A JSON value that may be null.
    case nullable(Schema)
    /// A named schema in `components.schemas`.
    case ref(String)

    static let text = Schema.string()
    static let time = Schema.string(format: "date-time")
    /// Credits: a decimal number, exact to six decimals.
    static let credits = Schema.number

    var json: [String: Any] {
        switch self {
        case .string(let format, let values):
            var out: [String: Any] = ["type": "string"]
            if let format { out["format"] = format }
            if let values { out["enum"] = values }
            return out
        case .integer: return ["type": "integer"]
        case .number: return ["type": "number"]
        case .boolean: return ["type": "boolean"]
        case .array(let items): return ["type": "array", "items": items.json]
        case .object(let properties, let required):
            var out: [String: Any] = [
                "type": "object", "properties": Dictionary(uniqueKeysWithValues: properties.map { ($0.0, $0.1.json) }),
            ]
            if !required.isEmpty { out["required"] = required }
            return out
        case .nullable(let inner):
            return ["oneOf": [inner.json, ["type": "null"]]]
        case .ref(let name): return ["$ref": "#/components/schemas/\(name)"]
        }
    }
}

/// One `/api` operation: what the router serves and what `/openapi.json` says about it, from the
/// same value, so the description cannot drift from the routes. Its access is set by the
/// `EndpointRegistry` method that registers it, the same one that puts it behind sign-in.
struct Endpoint: Sendable {
    enum Access: Sendable {
        case anyone
        /// A signed-in user (Bearer access token).
        case user
        case admin
        /// A Sluice API key (the `/v1` endpoints).
        case apiKey
    }

    var method: HTTPRequest.Method
    var path: String
    var summary: String
    var access = Access.anyone
    var query: [(String, Schema, String)] = []
    var request: Schema? = nil
    var status = 200
    var response: Schema? = nil
    var tag: String
}

/// Collects endpoints as they are registered on the router, while `buildApplication` runs. One
/// method per access level: each documents the endpoint with that access and serves it from the
/// route group that enforces it, with the context type that carries what it proved.
final class EndpointRegistry {
    private(set) var endpoints: [Endpoint] = []
    private let router: Router<SluiceRequestContext>
    private let users: RouterGroup<UserContext>
    private let admins: RouterGroup<AdminContext>

    init(router: Router<SluiceRequestContext>, signIn: SignInMiddleware) {
        self.router = router
        let signedIn = router.group().add(middleware: signIn)
        users = signedIn.group(context: UserContext.self)
        admins = signedIn.group(context: AdminContext.self)
    }

    /// An endpoint anyone may call.
    func anyone(_ endpoint: Endpoint, _ handler: @escaping @Sendable (Request, SluiceRequestContext) async throws -> Response) {
        endpoints.append(with(endpoint, access: .anyone))
        router.on(RouterPath(endpoint.path), method: endpoint.method, use: handler)
    }

    /// An endpoint for signed-in users: 401 without a live access token.
    func user(_ endpoint: Endpoint, _ handler: @escaping @Sendable (Request, UserContext) async throws -> Response) {
        endpoints.append(with(endpoint, access: .user))
        users.on(RouterPath(endpoint.path), method: endpoint.method, use: handler)
    }

    /// An endpoint for admins: 401 without a live access token, 403 for other users.
    func admin(_ endpoint: Endpoint, _ handler: @escaping @Sendable (Request, AdminContext) async throws -> Response) {
        endpoints.append(with(endpoint, access: .admin))
        admins.on(RouterPath(endpoint.path), method: endpoint.method, use: handler)
    }

    /// Adds an API-key route served elsewhere (the `/v1` handlers) to the description only.
    func describeAPIKeyRoute(_ endpoint: Endpoint) { endpoints.append(with(endpoint, access: .apiKey)) }

    /// Adds an open route served elsewhere (`/health`) to the description only.
    func describeOpenRoute(_ endpoint: Endpoint) { endpoints.append(with(endpoint, access: .anyone)) }

    private func with(_ endpoint: Endpoint, access: Endpoint.Access) -> Endpoint {
        var endpoint = endpoint
        endpoint.access = access
        return endpoint
    }
}
