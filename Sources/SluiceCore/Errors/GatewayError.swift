import Foundation

/// Every error a client can see, in the shape of OpenAI's error JSON.
///
/// The HTTP layer turns a `GatewayError` into `{"error":{"message","type","param","code"}}` with
/// `status` and, when `shouldRetry` is false, `x-should-retry: false`. Messages never contain
/// secrets: they are written here or by callers from request data, never from upstream bodies.
public struct GatewayError: Error, Sendable, Equatable {
    public var status: Int
    public var type: String
    public var code: String?
    public var param: String?
    public var message: String
    /// False for errors that retrying the same request cannot fix.
    public var shouldRetry: Bool
    /// Seconds the client should wait, sent as `Retry-After`.
    public var retryAfterSeconds: Int?

    public init(
        status: Int, type: String, code: String?, param: String? = nil, message: String,
        shouldRetry: Bool, retryAfterSeconds: Int? = nil
    ) {
        self.status = status
        self.type = type
        self.code = code
        self.param = param
        self.message = message
        self.shouldRetry = shouldRetry
        self.retryAfterSeconds = retryAfterSeconds
    }
}

extension GatewayError {
    public static func invalidRequest(_ message: String, param: String? = nil, code: String? = nil) -> Self {
        .init(status: 400, type: "invalid_request_error", code: code, param: param, message: message, shouldRetry: false)
    }

    /// 400 rather than 413, as for any other bad input: OpenAI SDKs surface 400s as `BadRequestError`.
    public static func bodyTooLarge(limit: Int?) -> Self {
        .init(
            status: 400, type: "invalid_request_error", code: "request_too_large", param: nil,
            message: "The request body is larger than the limit\(limit.map { " of \($0) bytes" } ?? "").", shouldRetry: false)
    }

    public static func modelNotFound(_ model: String) -> Self {
        .init(
            status: 404, type: "invalid_request_error", code: "model_not_found", param: "model",
            message: "The model `\(model)` does not exist or you do not have access to it.", shouldRetry: false)
    }

    public static func notFound(_ message: String) -> Self {
        .init(status: 404, type: "invalid_request_error", code: "not_found", message: message, shouldRetry: false)
    }

    public static func methodNotAllowed() -> Self {
        .init(status: 405, type: "invalid_request_error", code: "method_not_allowed", message: "Method not allowed.", shouldRetry: false)
    }

    /// One body for unknown, revoked and expired keys, so a caller cannot tell them apart.
    public static let invalidAPIKey = GatewayError(
        status: 401, type: "invalid_request_error", code: "invalid_api_key", param: nil,
        message: "Incorrect API key provided.", shouldRetry: false)

    public static let missingAPIKey = GatewayError(
        status: 401, type: "invalid_request_error", code: "missing_api_key", param: nil,
        message: "You didn't provide an API key. Send it as `Authorization: Bearer sk-...`.", shouldRetry: false)

    public static let userDisabled = GatewayError(
        status: 403, type: "permission_error", code: "account_disabled", param: nil,
        message: "This user is disabled.", shouldRetry: false)

    public static func insufficientQuota(needed: Credits, available: Credits) -> Self {
        .init(
            status: 429, type: "insufficient_quota", code: "insufficient_quota", param: nil,
            message: "You exceeded your current quota: this request may cost up to \(needed) credits and \(available) are available.",
            shouldRetry: false)
    }

    public static func allAccountsCooling(retryAfterSeconds: Int) -> Self {
        .init(
            status: 429, type: "rate_limit_error", code: "upstream_capacity", param: nil,
            message: "Every upstream account for this model is cooling down. Retry after \(retryAfterSeconds) s.",
            shouldRetry: true, retryAfterSeconds: retryAfterSeconds)
    }

    public static func accountsBusy(retryAfterSeconds: Int) -> Self {
        .init(
            status: 429, type: "rate_limit_error", code: "upstream_capacity", param: nil,
            message: "Every upstream account for this model is running as many requests as it may. Retry shortly.",
            shouldRetry: true, retryAfterSeconds: retryAfterSeconds)
    }

    public static func poolAllowanceExhausted(retryAfterSeconds: Int) -> Self {
        .init(
            status: 429, type: "rate_limit_error", code: "pool_allowance_exhausted", param: nil,
            message: "Your shared-pool allowance for this model is used up. It refills on its own; retry after \(retryAfterSeconds) s.",
            shouldRetry: true, retryAfterSeconds: retryAfterSeconds)
    }

    public static func noAccount(model: String) -> Self {
        .init(
            status: 503, type: "server_error", code: "no_upstream_account", param: nil,
            message: "No upstream account serves the model `\(model)` right now.", shouldRetry: true)
    }

    public static func upstreamFailed(_ detail: String) -> Self {
        .init(status: 502, type: "server_error", code: "upstream_error", param: nil, message: detail, shouldRetry: true)
    }

    public static func overloaded(_ detail: String) -> Self {
        .init(status: 503, type: "server_error", code: "overloaded", param: nil, message: detail, shouldRetry: true, retryAfterSeconds: 1)
    }

    /// A dependency the request needs (the database, Redis) does not answer: the request is refused,
    /// never served unbilled or unlimited.
    public static func dependencyUnavailable(_ detail: String) -> Self {
        .init(status: 503, type: "server_error", code: "dependency_unavailable", param: nil, message: detail, shouldRetry: true, retryAfterSeconds: 1)
    }

    public static func internalError() -> Self {
        .init(status: 500, type: "server_error", code: "internal_error", param: nil, message: "The gateway failed to handle this request.", shouldRetry: true)
    }
}

extension GatewayError {
    private struct Envelope: Encodable {
        struct Body: Encodable {
            let message: String
            let type: String
            let param: String?
            let code: String?
            func encode(to encoder: any Encoder) throws {
                // OpenAI sends explicit nulls for absent param and code; SDKs read them as keys.
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(message, forKey: .message)
                try c.encode(type, forKey: .type)
                try c.encode(param, forKey: .param)
                try c.encode(code, forKey: .code)
            }
            enum CodingKeys: String, CodingKey { case message, type, param, code }
        }
        let error: Body
    }

    /// The `{"error":{…}}` body, as JSON bytes.
    public var jsonBody: Data {
        let envelope = Envelope(error: .init(message: message, type: type, param: param, code: code))
        // Sorted keys: the same error must be the same bytes every time (the 401 bodies are compared).
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding four strings cannot fail; fall back to a fixed body rather than trap.
        return (try? encoder.encode(envelope)) ?? Data(#"{"error":{"message":"error","type":"server_error","param":null,"code":null}}"#.utf8)
    }
}
