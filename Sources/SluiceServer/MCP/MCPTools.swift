import Foundation
import HTTPTypes
import MCP

/// A method of the gateway's HTTP API (MCP has an `HTTPRequest` of its own).
typealias APIMethod = HTTPTypes.HTTPRequest.Method

/// The MCP tools: each one an operation of the gateway's own HTTP API, described by that
/// operation's documented endpoint and run by calling it with the caller's own credential. A
/// tool so does exactly what its route does, under the same rules (scopes, idempotency, holds,
/// one user's key reaching that user alone), and cannot drift from it.
struct MCPTools: Sendable {
    /// The tools and the operations they run, in the order they are listed.
    static let operations: [(tool: String, method: APIMethod, path: String)] = [
        ("user_ensure_exists", .post, "/api/v1/users/ensure"),
        ("user_get_info", .get, "/api/v1/users/{user_id}"),
        ("credits_balance", .get, "/api/v1/users/{user_id}/credits/balance"),
        ("credits_consume", .post, "/api/v1/users/{user_id}/credits/consume"),
        ("usage_record", .post, "/api/v1/users/{user_id}/usage"),
        ("usage_stats", .get, "/api/v1/users/{user_id}/usage/stats"),
        ("service_status", .get, "/health"),
    ]
    /// An argument every write takes: sent as the route's `Idempotency-Key`.
    static let idempotencyKey = "idempotency_key"

    struct Definition: Sendable {
        var tool: Tool
        var method: APIMethod
        var path: String
        var pathParameters: [String]
        var queryParameters: Set<String>
        var bodyFields: Set<String>
    }

    let definitions: [Definition]

    /// The tools, from the endpoints registered for the HTTP API.
    init(endpoints: [Endpoint]) {
        var definitions: [Definition] = []
        for (tool, method, path) in Self.operations {
            guard let endpoint = endpoints.first(where: { $0.method == method && $0.path == path }) else { continue }
            definitions.append(Self.definition(tool, endpoint))
        }
        self.definitions = definitions
    }

    private static func definition(_ name: String, _ endpoint: Endpoint) -> Definition {
        var properties: [String: Any] = [:]
        var required: [String] = []
        let pathParameters = OpenAPIDocument.pathParameters(endpoint.path)
        for parameter in pathParameters {
            var schema = (endpoint.pathSchema ?? .nonEmptyText).json
            schema["description"] = "A Sluice user id, or the external id the user was ensured with."
            properties[parameter] = schema
            required.append(parameter)
        }
        for (query, schema, description) in endpoint.query {
            var json = schema.json
            json["description"] = description
            properties[query] = json
        }
        var bodyFields: Set<String> = []
        if case .object(let fields, let bodyRequired, _) = endpoint.request {
            for (field, schema) in fields where properties[field] == nil {
                properties[field] = schema.json
                bodyFields.insert(field)
            }
            required += bodyRequired
        }
        if endpoint.method == .post {
            properties[Self.idempotencyKey] = [
                "type": "string", "minLength": 1, "maxLength": 200,
                "description": "Makes a retried call take effect once: the route's Idempotency-Key.",
            ]
        }
        let schema: [String: Any] = ["type": "object", "properties": properties, "required": required, "additionalProperties": false]
        let tool = Tool(
            name: name, description: "\(endpoint.summary) (\(endpoint.method.rawValue) \(endpoint.path))", inputSchema: Self.value(schema),
            annotations: .init(readOnlyHint: endpoint.method == .get, openWorldHint: false))
        return Definition(
            tool: tool, method: endpoint.method, path: endpoint.path, pathParameters: pathParameters,
            queryParameters: Set(endpoint.query.map(\.0)), bodyFields: bodyFields)
    }

    /// A JSON object as MCP's `Value`.
    static func value(_ json: [String: Any]) -> Value {
        guard let data = try? JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]),
            let value = try? JSONDecoder().decode(Value.self, from: data)
        else { return .object([:]) }
        return value
    }

    /// The HTTP request a call makes; a tool error's text when its arguments cannot make one.
    func request(for name: String, arguments: [String: Value]) -> Result<APICall, ToolRefusal> {
        guard let definition = definitions.first(where: { $0.tool.name == name }) else { return .failure(ToolRefusal("No tool is named \(name).")) }
        var path = definition.path
        var query: [URLQueryItem] = []
        var body: [String: Value] = [:]
        var headers: [(String, String)] = []
        for (argument, value) in arguments.sorted(by: { $0.key < $1.key }) {
            if definition.pathParameters.contains(argument) {
                guard let text = Self.text(value), !text.isEmpty else { return .failure(ToolRefusal("`\(argument)` must be a string or a number.")) }
                let encoded = text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? text
                path = path.replacingOccurrences(of: "{\(argument)}", with: encoded)
            } else if definition.queryParameters.contains(argument) {
                guard let text = Self.text(value) else { return .failure(ToolRefusal("`\(argument)` must be a string or a number.")) }
                query.append(URLQueryItem(name: argument, value: text))
            } else if definition.bodyFields.contains(argument) {
                body[argument] = value
            } else if argument == Self.idempotencyKey, definition.method == .post, let key = value.stringValue {
                headers.append(("Idempotency-Key", key))
            } else {
                return .failure(ToolRefusal("\(name) takes no argument `\(argument)`."))
            }
        }
        if let missing = definition.pathParameters.first(where: { path.contains("{\($0)}") }) {
            return .failure(ToolRefusal("`\(missing)` is required."))
        }
        var components = URLComponents()
        components.percentEncodedPath = path
        if !query.isEmpty { components.queryItems = query }
        let bodyData = definition.method == .post ? (try? JSONEncoder().encode(body)) ?? Data("{}".utf8) : nil
        return .success(APICall(method: definition.method, target: components.string ?? path, headers: headers, body: bodyData))
    }

    private static func text(_ value: Value) -> String? {
        switch value {
        case .string(let text): text
        case .int(let number): String(number)
        case .double(let number): number.rounded() == number ? String(Int64(number)) : String(number)
        case .bool(let flag): String(flag)
        default: nil
        }
    }
}

/// One call of the gateway's HTTP API on a tool's behalf.
struct APICall: Sendable {
    var method: APIMethod
    /// The path and query.
    var target: String
    var headers: [(String, String)]
    var body: Data?
}

/// Why a tool call was not even sent: arguments its route could not be called with.
struct ToolRefusal: Error {
    var message: String
    init(_ message: String) { self.message = message }
}
