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
/// same value, so the description cannot drift from the routes.
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
    var access: Access
    var query: [(String, Schema, String)] = []
    var request: Schema? = nil
    var status = 200
    var response: Schema? = nil
    var tag: String
}

/// Collects endpoints as they are registered on the router, while `buildApplication` runs.
final class EndpointRegistry {
    private(set) var endpoints: [Endpoint] = []
    let router: Router<SluiceRequestContext>

    init(router: Router<SluiceRequestContext>) { self.router = router }

    func add(
        _ endpoint: Endpoint, _ handler: @escaping @Sendable (Request, SluiceRequestContext) async throws -> Response
    ) {
        endpoints.append(endpoint)
        router.on(RouterPath(endpoint.path), method: endpoint.method, use: handler)
    }

    /// Adds a route served elsewhere (the `/v1` handlers) to the description only.
    func describe(_ endpoint: Endpoint) { endpoints.append(endpoint) }
}
