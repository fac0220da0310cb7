import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A loopback fake of the Stripe API endpoints Sluice calls: customers, Checkout Sessions and
/// Customer Portal sessions. It answers in Stripe's shapes (form-encoded requests, JSON objects,
/// `{"error":{…}}` on failure), honours `Idempotency-Key` as Stripe does (a repeated key gets the
/// first answer), and records every request for the tests to read.
public final class MockStripe: Sendable {
    public struct Call: Sendable, Equatable {
        public var path: String
        public var form: [String: String]
        public var authorization: String?
        public var idempotencyKey: String?
    }

    struct State {
        var calls: [Call] = []
        var answers: [String: String] = [:]
        var made = 0
        var failStatus: Int?
    }

    private let state = Mutex(State())
    public let secretKey: String

    public init(secretKey: String = "sk_test_sluice") { self.secretKey = secretKey }

    public var calls: [Call] { state.withLock { $0.calls } }

    /// Every answer is this error until cleared with nil.
    public func fail(with status: Int?) { state.withLock { $0.failStatus = status } }

    public func application(onReady: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        let router = Router()
        for path in ["/v1/customers", "/v1/checkout/sessions", "/v1/billing_portal/sessions"] {
            router.post(RouterPath(path)) { request, _ in try await self.respond(request, path: path) }
        }
        return Application(
            router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0), serverName: "mock-stripe"),
            onServerRunning: { channel in await onReady(channel.localAddress?.port ?? 0) },
            logger: Logger(label: "sluice.mock-stripe", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    func respond(_ request: Request, path: String) async throws -> Response {
        var request = request
        let form = MockTokenEndpoint.form(String(buffer: try await request.collectBody(upTo: 1 << 20)))
        let call = Call(
            path: path, form: form, authorization: request.headers[.authorization],
            idempotencyKey: request.headers[HTTPField.Name("Idempotency-Key")!])
        enum Answer { case status(Int), json(String) }
        let answer: Answer = state.withLock { state in
            state.calls.append(call)
            if let status = state.failStatus { return .status(status) }
            guard call.authorization == "Bearer \(secretKey)" else { return .status(401) }
            let replayKey = call.idempotencyKey.map { "\(path) \($0)" }
            if let replayKey, let first = state.answers[replayKey] { return .json(first) }
            state.made += 1
            let body = Self.object(path: path, number: state.made, form: form)
            if let replayKey { state.answers[replayKey] = body }
            return .json(body)
        }
        switch answer {
        case .json(let body):
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
        case .status(let status):
            let error = #"{"error":{"type":"api_error","message":"mock stripe refused with \#(status)"}}"#
            return Response(
                status: .init(code: status), headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: error)))
        }
    }

    static func object(path: String, number: Int, form: [String: String]) -> String {
        // The fields are strings and NSNull, which JSONSerialization always encodes; "{}" only to
        // have no crash point at all.
        func json(_ fields: [String: Any]) -> String {
            (try? JSONSerialization.data(withJSONObject: fields, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        }
        switch path {
        case "/v1/customers":
            return json(["id": "cus_mock\(number)", "object": "customer", "email": form["email"] ?? NSNull()])
        case "/v1/checkout/sessions":
            let id = "cs_test_mock\(number)"
            return json([
                "id": id, "object": "checkout.session", "mode": form["mode"] ?? "payment", "customer": form["customer"] ?? NSNull(),
                "url": "https://checkout.stripe.test/c/pay/\(id)", "status": "open", "payment_status": "unpaid",
            ])
        default:
            return json(["id": "bps_mock\(number)", "object": "billing_portal.session", "url": "https://billing.stripe.test/p/session/\(number)"])
        }
    }
}
