import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import SluiceCore
import SluiceStore

/// `/api/credits` for users, and the admin's recharges, adjustments and redemption codes.
struct CreditRoutes {
    let api: APIServices

    static let transactionSchema = Schema.ref("Transaction")
    /// The most credits an admin may bring a balance to.
    static let maxBalance = Credits(whole: 1_000_000_000_000)

    func register(on registry: EndpointRegistry) {
        registry.user(
            Endpoint(
                method: .get, path: "/api/credits/balance", summary: "Your credit balance.",
                response: .object([("balance", .credits)]), tag: "credits"), balance)
        registry.user(
            Endpoint(
                method: .get, path: "/api/credits/transactions",
                summary: "Your ledger, newest first. Page with limit and offset, or with cursor (the next_cursor of the last page).",
                query: [
                    ("type", .string(values: ["recharge", "grant", "consume", "refund", "adjust"]), "Only this kind."),
                    ("from", .timeOrDate, "From this time or date, inclusive."), ("to", .timeOrDate, "Before this time or date."),
                ] + QueryParameters.pageParameters,
                response: .object([("data", .array(Self.transactionSchema)), ("next_cursor", .nullable(.integer))]), tag: "credits"),
            transactions)
        registry.user(
            Endpoint(
                method: .post, path: "/api/credits/redeem", summary: "Redeem a code for credits. Each user redeems a code once.",
                request: .object([("code", .text)], required: ["code"], closed: true),
                response: .object([("credited", .credits), ("balance", .credits)]), errors: [404, 409], tag: "credits"), redeem)
        registry.admin(
            Endpoint(
                method: .post, path: "/api/admin/users/{id}/credits",
                summary: """
                    Recharge or adjust a user's credits. Send Idempotency-Key: a repeat replays the first answer; the same key with \
                    another body is a 422.
                    """,
                request: .anyOf([
                    Self.adjustment(type: "recharge", amount: .creditsInput(.positive), required: ["amount", "reason"]),
                    Self.adjustment(type: "adjust", amount: .creditsInput(.nonZero), required: ["amount", "reason", "type"]),
                ]),
                response: Self.transactionSchema, errors: [409, 422], tag: "admin"), adminCredit)
        registry.admin(
            Endpoint(
                method: .post, path: "/api/admin/redemption-codes", summary: "Make redemption codes. The codes are shown in this answer only.",
                request: .object(
                    [
                        ("value", .creditsInput(.positive)), ("max_uses", .nullable(.boundedInteger(1...1_000_000))),
                        ("expires_at", .nullable(.time)), ("count", .nullable(.boundedInteger(1...1000))),
                    ],
                    required: ["value"], closed: true),
                status: 201, response: .object([("codes", .array(.text))]), tag: "admin"), createCodes)
    }

    /// A recharge (the default `type`) adds a positive amount; an adjustment adds or takes any
    /// other amount, but never below a zero balance (409). `reason` is trimmed, then 1 to 500
    /// characters.
    static func adjustment(type: String, amount: Schema, required: [String]) -> Schema {
        .object(
            [("amount", amount), ("reason", .string(length: 1...500, pattern: #"\S"#)), ("type", .string(values: [type]))],
            required: required, closed: true)
    }

    @Sendable func balance(_ request: Request, context: UserContext) async throws -> Response {
        let user = context.user
        struct Balance: Encodable { var balance: CreditAmount }
        return try APIJSON.response(Balance(balance: CreditAmount(user.balance)))
    }

    @Sendable func transactions(_ request: Request, context: UserContext) async throws -> Response {
        try await transactions(request, userID: context.user.id)
    }

    /// The ledger of a user or a team's wallet, filtered and paged by the request's query.
    func transactions(_ request: Request, userID: Int64) async throws -> Response {
        let query = QueryParameters(request)
        var kind: LedgerKind?
        if let text = query.string("type") {
            guard let parsed = LedgerKind(rawValue: text) else {
                throw GatewayError.invalidRequest("`type` must be recharge, grant, consume, refund or adjust.", param: "type")
            }
            kind = parsed
        }
        let page = try query.page()
        let entries = try await api.store.transactions(
            LedgerQuery(userID: userID, kind: kind, from: try query.date("from"), to: try query.date("to"), page: page))
        return try APIJSON.response(Page(entries.map(TransactionView.init), limit: page.limit, id: \.id))
    }

    @Sendable func redeem(_ request: Request, context: UserContext) async throws -> Response {
        try await redeem(request, into: context.user.id, context: context)
    }

    /// Redeems the body's code into a user's or a team wallet's credits; the signed-in user acts.
    func redeem(_ request: Request, into userID: Int64, context: UserContext) async throws -> Response {
        struct Redeem: Decodable { var code: String }
        let (body, _) = try await APIJSON.body(Redeem.self, from: request, allowing: ["code"])
        switch try await api.store.redeem(codeHash: KeyAuthenticator.hash(body.code), userID: userID, now: Date()) {
        case .credited(let entry):
            await api.credits.invalidate(userID: userID)
            await api.log("code_redeemed", user: userID, actor: context.user.id, context: context, detail: "\(entry.amount) credits")
            struct Credited: Encodable { var credited: CreditAmount; var balance: CreditAmount }
            return try APIJSON.response(Credited(credited: CreditAmount(entry.amount), balance: CreditAmount(entry.balanceAfter)))
        case .notFound: throw GatewayError.notFound("No such code, or it has expired.")
        case .usedUp: throw GatewayError.conflict("This code has been used up.", param: "code")
        case .alreadyRedeemed: throw GatewayError.conflict("You have already redeemed this code.", param: "code")
        }
    }

    struct Adjustment: Decodable {
        var amount: CreditAmount
        var reason: String
        var type: String?
    }

    @Sendable func adminCredit(_ request: Request, context: AdminContext) async throws -> Response {
        try await credit(request, userID: try APIServices.id(context), context: context)
    }

    /// An admin's recharge or adjustment of a user's or a team wallet's balance.
    func credit(_ request: Request, userID: Int64, context: AdminContext) async throws -> Response {
        let admin = context.admin
        let (body, raw) = try await APIJSON.body(Adjustment.self, from: request, allowing: ["amount", "reason", "type"])
        let kind: LedgerKind
        switch body.type ?? "recharge" {
        case "recharge":
            guard body.amount.credits > .zero else { throw GatewayError.invalidRequest("A recharge `amount` must be positive.", param: "amount") }
            kind = .recharge
        case "adjust":
            guard body.amount.credits != .zero else { throw GatewayError.invalidRequest("`amount` must not be zero.", param: "amount") }
            kind = .adjust
        default: throw GatewayError.invalidRequest("`type` must be recharge or adjust.", param: "type")
        }
        let reason = body.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty, reason.count <= 500 else { throw GatewayError.invalidRequest("`reason` is required, at most 500 characters.", param: "reason") }
        guard let user = try await api.store.user(id: userID) else { throw GatewayError.notFound("No such user.") }
        // Far below where the fixed point overflows, so no sum of a balance and an amount can.
        if user.balance + body.amount.credits > Self.maxBalance {
            throw GatewayError.conflict("This would take the balance above \(Self.maxBalance) credits, the most a balance may hold.", param: "amount")
        }
        if kind == .adjust, user.balance + body.amount.credits < .zero {
            // The request is sound; the balance it meets is not enough.
            throw GatewayError.conflict("This adjustment would take the balance below zero.", param: "amount")
        }

        let idempotencyKey = request.headers[.idempotencyKey]
        let scope = "admin-credits:\(userID)"
        let requestHash = KeyAuthenticator.hash(String(decoding: raw, as: UTF8.self))
        if let key = idempotencyKey, let stored = try await api.store.storedReply(scope: scope, key: key) {
            return try Self.replay(stored, requestHash: requestHash)
        }
        // With a key, the ledger reference derives from it, so two concurrent first attempts still
        // write one entry; without one, every call is a new movement.
        let reference = idempotencyKey.map { "admin:\(userID):\(KeyAuthenticator.hash($0))" } ?? "admin:\(context.requestID)"
        let entry = try await api.store.credit(userID: userID, amount: body.amount.credits, kind: kind, referenceID: reference, note: reason)
        let reply = StoredReply(
            requestHash: requestHash, status: 200, body: String(decoding: try APIJSON.encoder.encode(TransactionView(entry)), as: UTF8.self))
        if let key = idempotencyKey {
            let stored = try await api.store.saveReply(scope: scope, key: key, reply)
            guard stored.requestHash == requestHash else { throw GatewayError.idempotencyMismatch() }
        }
        await api.credits.invalidate(userID: userID)
        await api.log("credits_changed", user: userID, actor: admin.id, context: context, detail: "\(kind.rawValue) \(entry.amount): \(reason)")
        return try Self.replay(reply, requestHash: requestHash)
    }

    static func replay(_ stored: StoredReply, requestHash: String) throws -> Response {
        guard stored.requestHash == requestHash else { throw GatewayError.idempotencyMismatch() }
        return Response(
            status: .init(code: stored.status), headers: [.contentType: "application/json"], body: .init(byteBuffer: .init(string: stored.body)))
    }

    struct NewCodes: Decodable {
        var value: CreditAmount
        var maxUses: Int?
        var expiresAt: Date?
        var count: Int?
    }

    @Sendable func createCodes(_ request: Request, context: AdminContext) async throws -> Response {
        let admin = context.admin
        let (body, _) = try await APIJSON.body(NewCodes.self, from: request, allowing: ["value", "max_uses", "expires_at", "count"])
        guard body.value.credits > .zero else { throw GatewayError.invalidRequest("`value` must be positive.", param: "value") }
        let maxUses = body.maxUses ?? 1
        guard (1...1_000_000).contains(maxUses) else { throw GatewayError.invalidRequest("`max_uses` must be from 1 to 1000000.", param: "max_uses") }
        let count = body.count ?? 1
        guard (1...1000).contains(count) else { throw GatewayError.invalidRequest("`count` must be from 1 to 1000.", param: "count") }
        if let expiry = body.expiresAt, expiry <= Date() {
            throw GatewayError.invalidRequest("`expires_at` must be in the future.", param: "expires_at")
        }
        var codes: [String] = []
        for _ in 0..<count {
            let code = RedemptionCodes.make()
            _ = try await api.store.createRedemptionCode(NewRedemptionCode(
                codeHash: KeyAuthenticator.hash(code), prefix: String(code.prefix(8)), value: body.value.credits, maxUses: maxUses,
                expiresAt: body.expiresAt, createdBy: admin.id))
            codes.append(code)
        }
        struct Codes: Encodable { var codes: [String] }
        return try APIJSON.response(Codes(codes: codes), status: .created)
    }
}

extension HTTPField.Name {
    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!
}
