import Foundation
import SluiceCore

/// Errors as Anthropic's API writes them, for `/v1/messages` clients:
/// `{"type":"error","error":{"type","message"}}`, the type following the status as Anthropic's
/// does, so the Anthropic SDKs raise the error class they would for Anthropic itself.
public enum MessagesErrors {
    public static func type(for error: GatewayError) -> String {
        if error.code == "insufficient_quota" || error.code == "key_spend_limit_reached" { return "billing_error" }
        switch error.status {
        case 400, 405, 422: return "invalid_request_error"
        case 401: return "authentication_error"
        case 402: return "billing_error"
        case 403: return "permission_error"
        case 404: return "not_found_error"
        case 413: return "request_too_large"
        case 429: return "rate_limit_error"
        case 504: return "timeout_error"
        case 503, 529: return "overloaded_error"
        default: return "api_error"
        }
    }

    public static func body(_ error: GatewayError) -> Data { body(type: type(for: error), message: error.message) }

    public static func body(type: String, message: String) -> Data {
        let object: [String: Any] = ["type": "error", "error": ["type": type, "message": message]]
        return (try? JSONText.data(object, sortedKeys: true)) ?? Data()
    }

    /// An upstream's OpenAI-shaped error body in Anthropic's shape; nil when it is not one.
    public static func fromOpenAI(_ body: Data, status: Int) -> Data? {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any], let error = object["error"] as? [String: Any]
        else { return nil }
        let gatewayError = GatewayError(
            status: status, type: error["type"] as? String ?? "api_error", code: error["code"] as? String,
            message: error["message"] as? String ?? "The upstream rejected the request.", shouldRetry: false)
        return Self.body(gatewayError)
    }

    /// The `error` event that ends a stream broken after its first byte.
    public static let midStreamError = ServerSentEvent(
        event: "error", data: body(type: "api_error", message: "The upstream stream failed after it had started. The answer is incomplete."))
}
