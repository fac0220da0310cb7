import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import SluiceCore

extension HTTPField.Name {
    static let requestID = HTTPField.Name("x-request-id")!
    static let shouldRetry = HTTPField.Name("x-should-retry")!
    static let accelBuffering = HTTPField.Name("x-accel-buffering")!
    /// The client's name for a conversation, for sticky routing.
    static let sessionID = HTTPField.Name("x-session-id")!
    /// Anthropic beta features a client asks for, passed on to Anthropic upstreams.
    static let anthropicBeta = HTTPField.Name("anthropic-beta")!
    /// The Messages API version a client speaks, passed on with its body.
    static let anthropicVersion = HTTPField.Name("anthropic-version")!
    /// How Anthropic's clients send their key.
    static let xAPIKey = HTTPField.Name("x-api-key")!
    /// How Google's clients send their key.
    static let xGoogAPIKey = HTTPField.Name("x-goog-api-key")!
}

extension Duration {
    /// The duration in seconds, for moving averages.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

extension GatewayError {
    /// The error as an HTTP response in OpenAI's shape.
    func response(requestID: String) -> Response {
        var response = response(body: jsonBody)
        response.headers[.requestID] = requestID
        return response
    }

    /// The error as an HTTP response with `body`, in the route's own error shape: its status, and
    /// `x-should-retry` and `Retry-After` as they apply.
    func response(body: Data) -> Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if !shouldRetry { headers[.shouldRetry] = "false" }
        if let retryAfterSeconds { headers[.retryAfter] = String(retryAfterSeconds) }
        return Response(status: .init(code: status), headers: headers, body: .init(byteBuffer: ByteBuffer(data: body)))
    }

    /// Any error thrown while serving, mapped to what the client should see. Unknown errors become
    /// a 500 whose body says nothing about their cause; the log has the detail.
    static func from(_ error: any Error, logger: Logger) -> GatewayError {
        switch error {
        case let error as GatewayError:
            return error
        case is NIOTooManyBytesError:
            return .bodyTooLarge(limit: nil)
        case let error as HTTPError:
            switch error.status.code {
            case 404: return .notFound("Unknown request URL. Check the path and method.")
            case 405: return .methodNotAllowed()
            case 413: return .bodyTooLarge(limit: nil)
            case 400..<500:
                return GatewayError(status: error.status.code, type: "invalid_request_error", code: nil, message: error.body ?? "Bad request.", shouldRetry: false)
            default:
                logger.error("http error", metadata: ["status": "\(error.status.code)"])
                return .internalError()
            }
        default:
            logger.error("unhandled error", metadata: ["error": "\(String(reflecting: Swift.type(of: error)))"])
            return .internalError()
        }
    }
}

/// Gives every response an `x-request-id` and turns every error into OpenAI's error JSON.
struct OpenAIErrorMiddleware: RouterMiddleware {
    typealias Context = SluiceRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            var response = try await next(request, context)
            response.headers[.requestID] = context.requestID
            return response
        } catch {
            return GatewayError.from(error, logger: context.logger).response(requestID: context.requestID)
        }
    }
}
