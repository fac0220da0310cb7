import Foundation

/// How `/openapi.json` describes the `/v1` routes, which `PublicRoutes` and the `GatewayHandler`s
/// serve. Each request schema states what the gateway itself checks before any upstream sees the
/// body (see `ChatRequestSummary.parse` and its siblings); every other member is passed on as sent,
/// so the objects stay open. A member sent as `null` counts as absent where the parser says so.
enum GatewayEndpoints {
    /// The statuses a request served by an upstream account can answer beyond those of its access
    /// and body: an unknown model, a limit, an upstream failure, no account free.
    static let servedErrors = [404, 429, 502, 503]
    static let tokens = Schema.boundedInteger(1...Int.max)
    /// Content: text, or a list of parts (passed on as sent).
    static let content = Schema.anyOf([.text, .array(.object([]))])

    static let chatRequest = Schema.object(
        [
            ("model", .nonEmptyText),
            ("messages", .array(
                .object(
                    [("role", .string(values: ["system", "developer", "user", "assistant", "tool"])), ("content", content), ("name", .text)],
                    required: ["role", "content"]),
                minItems: 1)),
            ("stream", .nullable(.boolean)), ("stream_options", .nullable(.object([("include_usage", .nullable(.boolean))]))),
            ("max_tokens", .nullable(tokens)), ("max_completion_tokens", .nullable(tokens)), ("user", .nullable(.text)),
        ], required: ["model", "messages"])

    static func messagesRequest(counting: Bool) -> Schema {
        .object(
            [
                ("model", .nonEmptyText),
                // Counting reads `max_tokens` only for its type.
                ("max_tokens", counting ? .nullable(.boundedInteger(Int.min...Int.max)) : tokens),
                ("messages", .array(
                    .object([("role", .string(values: ["user", "assistant"])), ("content", content)], required: ["role", "content"]), minItems: 1)),
                ("system", .anyOf([.text, .array(.object([]))])), ("stream", .nullable(.boolean)),
                ("metadata", .nullable(.object([("user_id", .nullable(.text))]))),
            ], required: counting ? ["model", "messages"] : ["model", "max_tokens", "messages"])
    }

    static let responsesRequest = Schema.object(
        [
            ("model", .nonEmptyText), ("input", .anyOf([.text, .array(.object([]), minItems: 1)])), ("stream", .nullable(.boolean)),
            ("max_output_tokens", .nullable(tokens)), ("user", .nullable(.text)), ("store", .boolean), ("instructions", .nullable(.text)),
        ], required: ["model", "input"])

    static let geminiRequest = Schema.object(
        [
            ("contents", .array(
                .object([("role", .string(values: ["user", "model"])), ("parts", .array(.object([("text", .text)])))], required: ["parts"]),
                minItems: 1)),
            ("generationConfig", .object([("maxOutputTokens", tokens)])),
        ], required: ["contents"])

    static let model = Schema.object([("id", .text), ("object", .text), ("created", .integer), ("owned_by", .text)])

    static func describe(on registry: EndpointRegistry) {
        registry.describeAPIKeyRoute(Endpoint(
            method: .post, path: "/v1/chat/completions",
            summary: "OpenAI chat completions, streaming (SSE) or not. Request and response follow OpenAI's schema.",
            request: chatRequest, response: .object([]), errors: servedErrors, streams: true, tag: "v1"))
        registry.describeAPIKeyRoute(Endpoint(
            method: .post, path: "/v1/messages",
            summary: """
                Anthropic Messages, streaming (SSE) or not, with the key as `x-api-key` or a bearer token. Request, response and \
                errors follow Anthropic's schema.
                """,
            request: messagesRequest(counting: false), response: .object([]), errors: servedErrors, errorSchema: "AnthropicError", streams: true,
            tag: "v1"))
        registry.describeAPIKeyRoute(Endpoint(
            method: .post, path: "/v1/messages/count_tokens",
            summary: "A Messages request's input tokens: an Anthropic account's count, else an estimate; nothing is charged.",
            request: messagesRequest(counting: true), response: .object([("input_tokens", .integer)], required: ["input_tokens"]),
            errors: [404], errorSchema: "AnthropicError", tag: "v1"))
        registry.describeAPIKeyRoute(Endpoint(
            method: .post, path: "/v1/responses",
            summary: """
                OpenAI Responses, streaming (SSE) or not, served by any account through chat; `previous_response_id` continues a kept \
                one (400 when none is kept under that id for this key).
                """,
            request: responsesRequest, response: .object([]), errors: servedErrors, streams: true, tag: "v1"))
        registry.describeAPIKeyRoute(Endpoint(
            method: .post, path: "/v1/embeddings", summary: "OpenAI embeddings of `input`, a string or a list; charged by input tokens.",
            request: .object(
                [("model", .nonEmptyText), ("input", .anyOf([.text, .array(.anyOf([.text, .array(.integer)]), minItems: 1)])), ("user", .text)],
                required: ["model", "input"]),
            response: .object([]), errors: servedErrors, tag: "v1"))
        registry.describeAPIKeyRoute(Endpoint(
            method: .post, path: "/v1beta/models/{action}",
            summary: """
                Gemini generateContent: `{model}:generateContent`, or `{model}:streamGenerateContent?alt=sse`, with the key as \
                `x-goog-api-key`, `?key=` or a bearer token. Request, response and errors follow Google's schema.
                """,
            query: [("alt", .string(values: ["sse"]), "`sse` for a stream of server-sent events.")],
            pathSchema: .string(pattern: "^[^/:]+:(generateContent|streamGenerateContent)$"),
            request: geminiRequest, response: .object([]), errors: servedErrors, errorSchema: "GoogleError", streams: true, tag: "v1"))
        registry.describeAPIKeyRoute(Endpoint(
            method: .get, path: "/v1beta/models", summary: "Models this key may use, in Gemini's shape.",
            response: .object([("models", .array(.object([("name", .text), ("displayName", .text)])))]), errorSchema: "GoogleError", tag: "v1"))
        registry.describeAPIKeyRoute(Endpoint(
            method: .get, path: "/v1/models", summary: "Models this key may use.",
            response: .object([("object", .text), ("data", .array(model))]), tag: "v1"))
        registry.describeAPIKeyRoute(Endpoint(
            method: .get, path: "/v1/models/{id}", summary: "One model.", response: model, errors: [404], tag: "v1"))
        registry.describeOpenRoute(Endpoint(
            method: .get, path: "/health", summary: "Liveness and store reachability; 503, with the same body, when degraded.",
            response: .object([("status", .string(values: ["ok", "degraded"])), ("version", .text), ("store", .text)]),
            alsoAnswersWithResponse: [503], tag: "v1"))
        registry.describeOpenRoute(Endpoint(
            method: .get, path: "/health/live", summary: "200 while the process runs, draining or not.",
            response: .object([("status", .string(values: ["live"]))]), tag: "v1"))
        registry.describeOpenRoute(Endpoint(
            method: .get, path: "/health/ready",
            summary: "200 while the gateway takes new work; 503 while it drains after SIGTERM, or when a dependency is down.",
            response: .anyOf([
                .object([("status", .string(values: ["draining"]))]),
                .object([("status", .string(values: ["ok", "degraded"])), ("version", .text), ("store", .text)]),
            ]),
            alsoAnswersWithResponse: [503], tag: "v1"))
    }
}
