import Foundation
import Hummingbird
import NIOCore
import SluiceCore

/// `/openapi.json` (OpenAPI 3.1) built from the registered endpoints, and `/docs`, a page that
/// renders it without any script from elsewhere.
enum OpenAPIDocument {
    static let schemas: [String: Schema] = baseSchemas.merging(TeamViews.schemas) { first, _ in first }

    private static let baseSchemas: [String: Schema] = [
        "User": .object([
            ("id", .integer), ("email", .text), ("email_verified", .boolean), ("role", .string(values: ["user", "admin"])),
            ("status", .string(values: ["active", "disabled", "muted"])), ("trust_level", .integer), ("plan", .text),
            ("pool_preference", .string(values: PoolPreference.allCases.map(\.rawValue))), ("balance", .credits), ("created_at", .time),
        ]),
        "APIKey": .object([
            ("id", .integer), ("name", .text), ("prefix", .text), ("created_at", .time), ("last_used_at", .nullable(.time)),
            ("expires_at", .nullable(.time)), ("allowed_models", .nullable(.array(.text))), ("rpm_limit", .nullable(.integer)),
            ("tpm_limit", .nullable(.integer)), ("spend_limit", .nullable(.credits)), ("spent", .credits),
            ("ip_allowlist", .nullable(.array(.text))), ("record_conversations", .boolean), ("key", .text),
        ]),
        "Transaction": .object([
            ("id", .integer), ("type", .text), ("amount", .credits), ("balance_before", .credits), ("balance_after", .credits),
            ("reference_id", .text), ("note", .nullable(.text)), ("created_at", .time),
        ]),
        "UsageLog": .object([
            ("id", .integer), ("request_id", .text), ("user_id", .integer), ("api_key_id", .integer), ("model", .text),
            ("served_model", .nullable(.text)), ("client_protocol", .nullable(.text)), ("upstream_protocol", .nullable(.text)),
            ("provider", .nullable(.text)), ("prompt_tokens", .integer), ("completion_tokens", .integer),
            ("cached_tokens", .integer), ("cache_write_tokens", .integer),
            ("credits", .credits), ("cost_estimated", .boolean), ("latency_ms", .integer), ("ttft_ms", .nullable(.integer)),
            ("status", .integer), ("end_reason", .text), ("stream", .boolean), ("created_at", .time),
        ]),
        "UsageTotals": .object([
            ("requests", .integer), ("prompt_tokens", .integer), ("completion_tokens", .integer), ("total_tokens", .integer),
            ("credits", .credits), ("cost_usd", .number), ("error_rate", .number),
        ]),
        "Activity": .object([
            ("id", .integer), ("action", .text), ("actor_id", .nullable(.integer)), ("ip", .nullable(.text)), ("detail", .nullable(.text)),
            ("created_at", .time),
        ]),
        "Account": AccountView.schema,
        "Quota": .object([
            ("group", .text), ("models", .array(.text)), ("unit", .string(values: ["tokens", "requests"])), ("capacity", .integer),
            ("available", .integer), ("recovery_per_hour", .integer), ("refills_at", .nullable(.time)), ("usable_at", .nullable(.time)),
        ]),
        "Plan": .object([
            ("name", .text), ("display_name", .text), ("monthly_credits", .credits), ("features", .array(.text)),
            ("pool_allowance", .object([("capacity", .integer), ("recovery_per_hour", .integer), ("unit", .text)])),
        ]),
        "Error": .object(
            [(
                "error",
                .object(
                    [("message", .text), ("type", .text), ("param", .nullable(.text)), ("code", .nullable(.text))],
                    required: ["message", "type", "param", "code"])
            )],
            required: ["error"]),
        // `/v1/messages` answers errors as Anthropic does, `/v1beta` as Google does.
        "AnthropicError": .object(
            [("type", .string(values: ["error"])), ("error", .object([("type", .text), ("message", .text)], required: ["type", "message"]))],
            required: ["type", "error"]),
        "GoogleError": .object(
            [("error", .object([("code", .integer), ("message", .text), ("status", .text)], required: ["code", "message", "status"]))],
            required: ["error"]),
    ]

    /// One event of a `text/event-stream` answer; its `data` is the protocol's JSON, as text.
    static let serverSentEvent = Schema.object([("event", .text), ("data", .text), ("id", .text)])

    static let statusDescriptions: [Int: String] = [
        400: "The request is not valid; `param` names the field.", 402: "Not enough credits; nothing was consumed.", 401: "Missing, unknown, revoked or expired credentials.",
        403: "Not allowed: a disabled user, a user who is not an admin, a model the key may not use, or a scope the token lacks.",
        404: "No such resource or model.", 409: "Conflicts with what exists.", 422: "An Idempotency-Key reused with another body.",
        429: "A limit: credits, rate, sign-in attempts, shared-pool allowance or upstream capacity.", 502: "The upstream failed.",
        503: "No upstream account, or a dependency (database, Redis), is available right now.",
    ]

    static func build(_ endpoints: [Endpoint], version: String) -> [String: Any] {
        var paths: [String: [String: Any]] = [:]
        for endpoint in endpoints {
            var operation: [String: Any] = ["summary": endpoint.summary, "tags": [endpoint.tag]]
            switch endpoint.access {
            case .anyone: operation["security"] = [[String: [String]]]()
            case .user, .admin: operation["security"] = [["accessToken": [String]()]]
            case .apiKey: operation["security"] = [["apiKey": [String]()]]
            case .service(let scope):
                operation["security"] = [["serviceToken": [String]()]]
                operation["description"] = "Service tokens with the scope \(scope.rawValue)."
                operation["x-required-scope"] = scope.rawValue
            }
            if let action = endpoint.teamAction {
                let role = action.minimumRole.rawValue
                operation["description"] = "Team \(role)s and above, and site admins. Anyone else gets 404: another team's resources are not there."
                operation["x-team-role"] = role
                operation["x-team-action"] = action.rawValue
            }
            if endpoint.access == .admin {
                operation["description"] = "Admins only."
                // Security schemes cannot say which role a bearer must have; this says it for tools.
                operation["x-required-role"] = "admin"
            }
            var parameters: [[String: Any]] = endpoint.query.map { name, schema, description in
                ["name": name, "in": "query", "required": false, "description": description, "schema": schema.json]
            }
            for name in pathParameters(endpoint.path) {
                let schema = endpoint.pathSchema ?? (endpoint.path.hasPrefix("/api") ? Schema.positiveInteger : Schema.nonEmptyText)
                parameters.append(["name": name, "in": "path", "required": true, "schema": schema.json])
            }
            if !parameters.isEmpty { operation["parameters"] = parameters }
            if let request = endpoint.request {
                operation["requestBody"] = ["required": true, "content": [endpoint.requestMediaType: ["schema": request.json]]]
            }
            var success: [String: Any] = ["description": "Success."]
            if let response = endpoint.response {
                var content: [String: Any] = [endpoint.responseMediaType: ["schema": response.json]]
                if endpoint.streams { content["text/event-stream"] = ["schema": Self.serverSentEvent.json] }
                success["content"] = content
            }
            var responses: [String: Any] = [String(endpoint.status): success]
            for status in endpoint.alsoAnswersWithResponse { responses[String(status)] = success }
            for status in endpoint.errorStatuses {
                responses[String(status)] = [
                    "description": statusDescriptions[status] ?? "An error.",
                    "content": ["application/json": ["schema": Schema.ref(endpoint.errorSchema).json]],
                ]
            }
            operation["responses"] = responses
            paths[endpoint.path, default: [:]][endpoint.method.rawValue.lowercased()] = operation
        }
        return [
            "openapi": "3.1.0",
            "info": [
                "title": "Sluice", "version": version,
                "description": "OpenAI-compatible gateway (/v1) and its self-service and admin API (/api). Credits are decimal numbers.",
            ],
            "paths": paths,
            "components": [
                "schemas": schemas.merging(ChatSessionRoutes.schemas) { first, _ in first }.mapValues(\.json),
                "securitySchemes": [
                    "accessToken": ["type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "From POST /api/auth/login."],
                    "apiKey": ["type": "http", "scheme": "bearer", "description": "A Sluice API key, sk-sluice-..."],
                    "serviceToken": ["type": "http", "scheme": "bearer", "description": "A service token, sst-..., from an admin."],
                ],
            ],
        ]
    }

    static func pathParameters(_ path: String) -> [String] {
        path.split(separator: "/").filter { $0.hasPrefix("{") && $0.hasSuffix("}") }.map { String($0.dropFirst().dropLast()) }
    }

    static func json(_ endpoints: [Endpoint], version: String) -> ByteBuffer {
        let data = (try? JSONSerialization.data(withJSONObject: build(endpoints, version: version), options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        return ByteBuffer(data: data)
    }

    /// A plain page listing every operation, its access and its parameters; no external scripts.
    static func html(_ endpoints: [Endpoint]) -> String {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        var rows = ""
        for tag in Array(Set(endpoints.map(\.tag))).sorted() {
            rows += "<h2>\(escape(tag))</h2>\n"
            for e in endpoints where e.tag == tag {
                let access: String
                switch e.access {
                case .anyone: access = "public"
                case .user: access = "signed-in user"
                case .admin: access = "admin"
                case .apiKey: access = "API key"
                case .service(let scope): access = "service token, \(scope.rawValue)"
                }
                rows += "<div class=op><code class=m>\(e.method.rawValue)</code> <code>\(escape(e.path))</code> <span class=a>\(access)</span>"
                rows += "<p>\(escape(e.summary))</p>"
                if !e.query.isEmpty {
                    rows += "<ul>" + e.query.map { "<li><code>\(escape($0.0))</code> \(escape($0.2))</li>" }.joined() + "</ul>"
                }
                rows += "</div>\n"
            }
        }
        return """
            <!doctype html><html><head><meta charset=utf-8><title>Sluice API</title>
            <style>body{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em}
            .op{border-top:1px solid #ddd;padding:.5em 0}.m{font-weight:bold}.a{color:#666;font-size:.9em}</style></head>
            <body><h1>Sluice API</h1><p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).
            Errors are <code>{"error":{"message","type","param","code"}}</code> with a real HTTP status.</p>
            \(rows)</body></html>
            """
    }
}
