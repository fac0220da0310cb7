import Foundation
import Logging
import NIOCore
import NIOHTTP1
import SluiceCore
import SluiceProviders

/// The few Stripe API calls Sluice makes: a customer per user, Checkout Sessions, and Customer
/// Portal sessions. Form-encoded POSTs with the secret key as bearer token, over the gateway's own
/// HTTP client. Each call sends an `Idempotency-Key`, so a retry after a lost answer makes nothing
/// twice at Stripe.
struct StripeClient: Sendable {
    let http: UpstreamHTTPClient
    let base: String
    let secretKey: String
    let logger: Logger

    struct Session: Sendable, Equatable {
        var id: String
        var url: String
    }

    /// The user's customer. Stripe answers a repeated idempotency key with the first customer, so
    /// two checkouts racing for a new user make one.
    func createCustomer(email: String, userID: Int64) async throws -> String {
        let object = try await post(
            "/v1/customers", form: [("email", email), ("metadata[sluice_user_id]", String(userID))],
            idempotencyKey: "sluice-customer-\(userID)", what: "customer")
        guard let id = object["id"] as? String else { throw Self.unusable("customer") }
        return id
    }

    func createCheckoutSession(_ form: [(String, String)], idempotencyKey: String) async throws -> Session {
        let object = try await post("/v1/checkout/sessions", form: form, idempotencyKey: idempotencyKey, what: "checkout session")
        guard let id = object["id"] as? String, let url = object["url"] as? String else { throw Self.unusable("checkout session") }
        return Session(id: id, url: url)
    }

    func createPortalSession(customer: String, returnURL: String, idempotencyKey: String) async throws -> String {
        let object = try await post(
            "/v1/billing_portal/sessions", form: [("customer", customer), ("return_url", returnURL)], idempotencyKey: idempotencyKey,
            what: "portal session")
        guard let url = object["url"] as? String else { throw Self.unusable("portal session") }
        return url
    }

    /// Stripe's answer, or a 502 whose message says what failed but repeats nothing Stripe said:
    /// its message goes to the log only.
    private func post(_ path: String, form: [(String, String)], idempotencyKey: String, what: String) async throws -> [String: Any] {
        var headers = HTTPHeaders()
        headers.add(name: "authorization", value: "Bearer \(secretKey)")
        headers.add(name: "content-type", value: "application/x-www-form-urlencoded")
        headers.add(name: "idempotency-key", value: idempotencyKey)
        let status: Int
        let body: Data
        do {
            let response = try await http.execute(
                .POST, url: base + path, headers: headers, body: ByteBuffer(string: OAuthTokenClient.formEncoded(form)), headTimeout: .seconds(30))
            status = response.status
            body = Data(try await response.body.collect(upTo: 1 << 20).readableBytesView)
        } catch {
            logger.warning("stripe unreachable", metadata: ["call": "\(what)", "error": "\(type(of: error))"])
            throw GatewayError.upstreamFailed("Stripe could not be reached to create the \(what); try again.")
        }
        let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        guard (200..<300).contains(status), let object else {
            let message = ((object?["error"] as? [String: Any])?["message"] as? String) ?? "no error message"
            logger.warning("stripe refused", metadata: ["call": "\(what)", "status": "\(status)", "stripe_message": "\(message)"])
            throw GatewayError.upstreamFailed("Stripe did not create the \(what) (HTTP \(status)).")
        }
        return object
    }

    private static func unusable(_ what: String) -> GatewayError {
        .upstreamFailed("Stripe answered the \(what) request without the fields Sluice needs.")
    }
}
