import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SluiceCore
import SluiceStore

/// `/api/payments`, `/api/subscriptions` and the Stripe webhook. Registered only when
/// `payments.stripe` is configured; without it these paths are 404s like any unknown path.
struct PaymentRoutes {
    let api: APIServices
    let stripe: SluiceConfig.Stripe
    let client: StripeClient
    let webhook: StripeWebhook
    /// Where Checkout and the portal send the browser back.
    let successURL: String
    let cancelURL: String

    static let session = Schema.object([("id", .text), ("url", .text)])

    func register(on registry: EndpointRegistry) {
        registry.user(
            Endpoint(
                method: .get, path: "/api/payments/packs", summary: "The credit packs on sale.",
                response: .object([
                    ("data", .array(.object([("name", .text), ("credits", .credits), ("price", .number), ("currency", .text)])))
                ]), tag: "payments"), packs)
        registry.user(
            Endpoint(
                method: .post, path: "/api/payments/checkout",
                summary: """
                    Start buying a credit pack: a Stripe Checkout Session whose `url` the browser opens. The credits arrive when \
                    Stripe reports the session paid. Send Idempotency-Key to get the same session for a retried call.
                    """,
                request: .object([("pack", .string(values: stripe.packs.keys.sorted()))], required: ["pack"], closed: true), status: 201,
                response: Self.session,
                errors: [502], tag: "payments"), checkout)
        registry.user(
            Endpoint(
                method: .post, path: "/api/subscriptions",
                summary: "Subscribe to a paid plan through Stripe Checkout. The plan starts when Stripe reports its first invoice paid.",
                request: .object([("plan", .string(values: stripe.planPrices.keys.sorted()))], required: ["plan"], closed: true), status: 201,
                response: Self.session, errors: [409, 502], tag: "payments"), subscribe)
        registry.user(
            Endpoint(
                method: .post, path: "/api/subscriptions/portal",
                summary: "A Stripe Customer Portal link, to change or cancel the subscription and see invoices.",
                response: .object([("url", .text)]), errors: [409, 502], tag: "payments"), portal)
        registry.user(
            Endpoint(
                method: .get, path: "/api/subscriptions/me", summary: "Your plan, and the Stripe subscription behind it if any.",
                response: .object([
                    ("plan", .text), ("subscription_id", .nullable(.text)), ("status", .nullable(.text)),
                    ("current_period_end", .nullable(.time)), ("cancel_at_period_end", .boolean),
                ]), tag: "payments"), mySubscription)
        registry.anyone(
            Endpoint(
                method: .post, path: "/api/webhooks/stripe",
                summary: """
                    Stripe's webhook. The body must carry a valid Stripe-Signature; each event id is handled once, and the answer is \
                    2xx only once its effect is committed.
                    """,
                response: .object([("received", .boolean), ("outcome", .string(values: ["processed", "duplicate", "ignored"]))]),
                errors: [400, 409], tag: "payments"), receive)
        registry.admin(
            Endpoint(
                method: .get, path: "/api/admin/payments/shortfalls",
                summary: "Refunds that could not take back all their credits because they were spent: settle these by hand.",
                query: QueryParameters.pageParameters.filter { $0.0 != "cursor" },
                response: .object([
                    ("data", .array(.object([
                        ("reference_id", .text), ("user_id", .integer), ("object_id", .text), ("charge_id", .text), ("refunded_cents", .integer),
                        ("taken", .credits), ("shortfall", .credits), ("created_at", .time),
                    ])))
                ]), tag: "admin"), shortfalls)
    }

    @Sendable func packs(_ request: Request, context: UserContext) async throws -> Response {
        struct Pack: Encodable { var name: String; var credits: CreditAmount; var price: Decimal; var currency: String }
        struct Packs: Encodable { var data: [Pack] }
        let packs = stripe.packs.values.sorted { ($0.priceCents, $0.name) < ($1.priceCents, $1.name) }.map {
            Pack(name: $0.name, credits: CreditAmount($0.credits), price: Decimal($0.priceCents) / 100, currency: stripe.currency)
        }
        return try APIJSON.response(Packs(data: packs))
    }

    @Sendable func checkout(_ request: Request, context: UserContext) async throws -> Response {
        try await checkout(request, for: context.user, context: context)
    }

    /// Starts a Stripe checkout for a pack, credited to `user`: the signed-in user, or a team's wallet.
    func checkout(_ request: Request, for user: UserRecord, context: UserContext) async throws -> Response {
        struct Body: Decodable { var pack: String }
        let (body, _) = try await APIJSON.body(Body.self, from: request, allowing: ["pack"])
        guard let pack = stripe.packs[body.pack] else {
            throw GatewayError.invalidRequest("No pack `\(body.pack)`; GET /api/payments/packs lists them.", param: "pack")
        }
        let customer = try await customer(for: user)
        let form: [(String, String)] = [
            ("mode", "payment"), ("customer", customer), ("client_reference_id", String(user.id)),
            ("line_items[0][quantity]", "1"), ("line_items[0][price_data][currency]", stripe.currency),
            ("line_items[0][price_data][unit_amount]", String(pack.priceCents)),
            ("line_items[0][price_data][product_data][name]", "\(pack.credits) Sluice credits (\(pack.name))"),
            ("metadata[sluice_user_id]", String(user.id)), ("metadata[sluice_pack]", pack.name),
            ("success_url", successURL), ("cancel_url", cancelURL),
        ]
        let session = try await client.createCheckoutSession(form, idempotencyKey: idempotencyKey(request, context: context, user: user.id))
        try await api.store.openPayment(NewPayment(
            objectID: session.id, userID: user.id, purpose: .pack, item: pack.name, credits: pack.credits, amountCents: pack.priceCents,
            currency: stripe.currency))
        await api.log("checkout_started", user: user.id, actor: context.user.id, context: context, detail: "\(pack.name) pack, Stripe \(session.id)")
        return try APIJSON.response(SessionView(id: session.id, url: session.url), status: .created)
    }

    @Sendable func subscribe(_ request: Request, context: UserContext) async throws -> Response {
        struct Body: Decodable { var plan: String }
        let (body, _) = try await APIJSON.body(Body.self, from: request, allowing: ["plan"])
        guard let price = stripe.planPrices[body.plan] else {
            throw GatewayError.invalidRequest(
                "`plan` must be one of \(stripe.planPrices.keys.sorted().joined(separator: ", ")): the plans with a Stripe price.", param: "plan")
        }
        let user = context.user
        if let current = try await api.store.subscription(userID: user.id), current.givesPlan {
            throw GatewayError.conflict("You have a \(current.plan) subscription already; change it in the portal (POST /api/subscriptions/portal).")
        }
        let customer = try await customer(for: user)
        let form: [(String, String)] = [
            ("mode", "subscription"), ("customer", customer), ("client_reference_id", String(user.id)),
            ("line_items[0][price]", price), ("line_items[0][quantity]", "1"),
            ("subscription_data[metadata][sluice_user_id]", String(user.id)), ("metadata[sluice_plan]", body.plan),
            ("success_url", successURL), ("cancel_url", cancelURL),
        ]
        let session = try await client.createCheckoutSession(form, idempotencyKey: idempotencyKey(request, context: context, user: user.id))
        try await api.store.openPayment(NewPayment(
            objectID: session.id, userID: user.id, purpose: .subscription, item: body.plan, credits: .zero, amountCents: 0,
            currency: stripe.currency))
        await api.log("checkout_started", user: user.id, actor: user.id, context: context, detail: "\(body.plan) plan, Stripe \(session.id)")
        return try APIJSON.response(SessionView(id: session.id, url: session.url), status: .created)
    }

    @Sendable func portal(_ request: Request, context: UserContext) async throws -> Response {
        guard let customer = try await api.store.stripeCustomer(userID: context.user.id) else {
            throw GatewayError.conflict("You have not paid through Stripe yet, so there is no billing portal for you.")
        }
        let url = try await client.createPortalSession(
            customer: customer, returnURL: cancelURL, idempotencyKey: "sluice-portal-\(context.requestID)")
        struct Portal: Encodable { var url: String }
        return try APIJSON.response(Portal(url: url))
    }

    @Sendable func mySubscription(_ request: Request, context: UserContext) async throws -> Response {
        let subscription = try await api.store.subscription(userID: context.user.id)
        struct Mine: Encodable {
            var plan: String
            var subscriptionId: String?
            var status: String?
            var currentPeriodEnd: Date?
            var cancelAtPeriodEnd: Bool
        }
        return try APIJSON.response(Mine(
            plan: context.user.plan, subscriptionId: subscription?.id, status: subscription?.status,
            currentPeriodEnd: subscription?.currentPeriodEnd, cancelAtPeriodEnd: subscription?.cancelAtPeriodEnd ?? false))
    }

    @Sendable func receive(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        var request = request
        let buffer: ByteBuffer
        do { buffer = try await request.collectBody(upTo: APIJSON.maxBodyBytes * 16) } catch is NIOTooManyBytesError {
            throw GatewayError.bodyTooLarge(limit: APIJSON.maxBodyBytes * 16)
        }
        let outcome = try await webhook.receive(
            body: Data(buffer: buffer), signatureHeader: request.headers[HTTPField.Name("Stripe-Signature")!], now: Date())
        struct Received: Encodable { var received = true; var outcome: String; var detail: String? }
        switch outcome {
        case .processed: return try APIJSON.response(Received(outcome: "processed"))
        case .duplicate: return try APIJSON.response(Received(outcome: "duplicate"))
        case .ignored(let why): return try APIJSON.response(Received(outcome: "ignored", detail: why))
        }
    }

    @Sendable func shortfalls(_ request: Request, context: AdminContext) async throws -> Response {
        let page = try QueryParameters(request).page()
        struct Shortfall: Encodable {
            var referenceId: String
            var userId: Int64
            var objectId: String
            var chargeId: String
            var refundedCents: Int64
            var taken: CreditAmount
            var shortfall: CreditAmount
            var createdAt: Date
        }
        struct Shortfalls: Encodable { var data: [Shortfall] }
        let rows = try await api.store.refundShortfalls(page: PageRequest(limit: page.limit, offset: page.offset))
        return try APIJSON.response(Shortfalls(data: rows.map {
            Shortfall(
                referenceId: $0.referenceID, userId: $0.userID, objectId: $0.objectID, chargeId: $0.chargeID, refundedCents: $0.refundedCents,
                taken: CreditAmount($0.taken), shortfall: CreditAmount($0.shortfall), createdAt: $0.createdAt)
        }))
    }

    struct SessionView: Encodable {
        var id: String
        var url: String
    }

    /// The user's Stripe customer, made on first use and linked before any session exists, so
    /// every later event about it finds its user whatever order Stripe delivers them in.
    private func customer(for user: UserRecord) async throws -> String {
        if let known = try await api.store.stripeCustomer(userID: user.id) { return known }
        let made = try await client.createCustomer(email: user.email, userID: user.id)
        return try await api.store.linkStripeCustomer(userID: user.id, customerID: made)
    }

    /// The caller's Idempotency-Key, scoped to them; without one, every call is new.
    private func idempotencyKey(_ request: Request, context: UserContext, user: Int64) -> String {
        request.headers[.idempotencyKey].map { "sluice-checkout-\(user)-\(KeyAuthenticator.hash($0))" } ?? "sluice-checkout-\(context.requestID)"
    }
}
