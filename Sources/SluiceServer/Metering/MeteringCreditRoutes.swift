import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// The seed's credit and user routes under `/api/v1`: balance, transactions, consume and
/// recharge, and users made or found by external id.
///
/// A consume is a debit under the same rules as a gateway request's: it holds the credits in the
/// same credit holds (Redis when instances share state) before the ledger entry is written, so
/// services and the gateway together never spend more than the balance. Consumes and recharges are
/// once per Idempotency-Key (or `request_id` / `reference_id`): the key names the ledger entry.
struct MeteringCreditRoutes {
    let api: APIServices

    static let transaction = Schema.object([
        ("id", .integer), ("type", .text), ("amount", .credits), ("balance_before", .credits), ("balance_after", .credits),
        ("reference_id", .text), ("note", .nullable(.text)), ("created_at", .time),
    ])

    func register(on registry: EndpointRegistry) {
        registry.service(
            Endpoint(
                method: .get, path: "/api/v1/users/{user_id}", summary: "A user, by Sluice id or external id.", pathSchema: Metering.userPath,
                response: Metering.envelopeSchema(Metering.UserView.schema), tag: "metering"),
            scope: .usersRead, userInfo)
        registry.service(
            Endpoint(
                method: .post, path: "/api/v1/users/ensure",
                summary: "The user with this external id, made now if there is none (201). Repeats answer 200 with the same user.",
                request: .object(
                    [
                        // An external id is not all digits: those are Sluice's own ids.
                        ("user_id", .string(length: 1...200, pattern: "[^0-9]")), ("email", .string(length: 3...320, pattern: "@")),
                        ("name", .nullable(.string(length: 0...200))),
                    ],
                    required: ["user_id", "email"], closed: true),
                status: 201, response: Metering.envelopeSchema(Metering.UserView.schema), errors: [409], alsoAnswersWithResponse: [200],
                tag: "metering"),
            scope: .usersWrite, ensure)
        registry.service(
            Endpoint(
                method: .get, path: "/api/v1/users/{user_id}/credits/balance", summary: "The user's credit balance, as `data`.",
                pathSchema: Metering.userPath, response: Metering.envelopeSchema(.credits), tag: "metering"),
            scope: .usersRead, balance)
        registry.service(
            Endpoint(
                method: .get, path: "/api/v1/users/{user_id}/credits/transactions", summary: "The user's ledger, newest first.",
                query: [
                    ("transaction_type", .string(values: ["recharge", "grant", "consume", "refund", "adjust"]), "Only this kind."),
                    ("start_date", .timeOrDate, "From this time, inclusive."), ("end_date", .timeOrDate, "Before this time."),
                    ("limit", .boundedInteger(1...200), "1-200, default 50."), ("offset", .boundedInteger(0...1_000_000), "Rows to skip."),
                ],
                pathSchema: Metering.userPath, response: Metering.envelopeSchema(.array(Self.transaction)), tag: "metering"),
            scope: .usersRead, transactions)
        registry.service(
            Endpoint(
                method: .post, path: "/api/v1/users/{user_id}/credits/consume",
                summary: """
                    Debit credits, never past the balance: 402 with the balance when it would, and nothing is taken. Once per \
                    Idempotency-Key or `request_id`; a repeat answers with the first debit.
                    """,
                pathSchema: Metering.userPath,
                request: .object(
                    [
                        ("amount", .creditsInput(.positive)), ("user_id", .nullable(.text)), ("reason", .nullable(.string(length: 0...500))),
                        ("usage_id", .nullable(.positiveInteger)), ("request_id", .nullable(.string(length: 1...200))),
                    ],
                    required: ["amount"], closed: true),
                response: Self.debitSchema, errors: [402, 409, 422], tag: "metering"),
            scope: .creditsConsume, consume)
        registry.service(
            Endpoint(
                method: .post, path: "/api/v1/users/{user_id}/credits/recharge",
                summary: "Add credits. Once per `reference_id` (or Idempotency-Key); a repeat answers with the first entry.",
                pathSchema: Metering.userPath,
                request: .object(
                    [
                        ("amount", .creditsInput(.positive)), ("user_id", .nullable(.text)), ("description", .nullable(.string(length: 0...500))),
                        ("reference_id", .nullable(.string(length: 1...200))),
                    ],
                    required: ["amount"], closed: true),
                response: Metering.envelopeSchema(Self.transaction), errors: [409, 422], tag: "metering"),
            scope: .creditsRecharge, recharge)
    }

    static let debitSchema = Schema.object([
        ("success", .boolean), ("status", .text), ("message", .text), ("timestamp", .time), ("remaining_credits", .credits),
        ("consumed_amount", .credits), ("data", transaction),
    ])

    @Sendable func userInfo(_ request: Request, context: ServiceContext) async throws -> Response {
        let user = try await Metering.user(context, store: api.store)
        return try Metering.envelope("User retrieved successfully", Metering.UserView(user))
    }

    @Sendable func ensure(_ request: Request, context: ServiceContext) async throws -> Response {
        struct Body: Decodable { var userId: String; var email: String; var name: String? }
        let (body, _) = try await APIJSON.body(Body.self, from: request, allowing: ["user_id", "email", "name"])
        let email = body.email.trimmingCharacters(in: .whitespaces)
        guard (1...200).contains(body.userId.count), Int64(body.userId) == nil else {
            throw GatewayError.invalidRequest("`user_id` is an external id of 1 to 200 characters, not a number.", param: "user_id")
        }
        guard email.count <= 320, email.contains("@") else { throw GatewayError.invalidRequest("`email` is not an address.", param: "email") }
        do {
            let (user, created) = try await api.store.ensureUser(externalID: body.userId, email: email, name: body.name)
            if created { try await api.grants.grant(user) }
            return try Metering.envelope(
                created ? "User created" : "User exists", Metering.UserView(user), status: created ? .created : .ok)
        } catch is StoreConflict {
            throw GatewayError.conflict("Another user has this email.", param: "email")
        }
    }

    @Sendable func balance(_ request: Request, context: ServiceContext) async throws -> Response {
        let user = try await Metering.user(context, store: api.store)
        return try Metering.envelope("Credit balance retrieved successfully", CreditAmount(user.balance))
    }

    @Sendable func transactions(_ request: Request, context: ServiceContext) async throws -> Response {
        let user = try await Metering.user(context, store: api.store)
        let query = QueryParameters(request)
        var kind: LedgerKind?
        if let text = query.string("transaction_type") {
            guard let parsed = LedgerKind(rawValue: text) else {
                throw GatewayError.invalidRequest("`transaction_type` must be recharge, grant, consume, refund or adjust.", param: "transaction_type")
            }
            kind = parsed
        }
        let entries = try await api.store.transactions(LedgerQuery(
            userID: user.id, kind: kind, from: try query.date("start_date"), to: try query.date("end_date"),
            page: PageRequest(limit: try query.int("limit", in: 1...200) ?? 50, offset: try query.int("offset", in: 0...1_000_000) ?? 0)))
        return try Metering.envelope("Retrieved \(entries.count) transactions", entries.map(TransactionView.init))
    }

    struct Debit: Decodable {
        var amount: CreditAmount
        var userId: String?
        var reason: String?
        var usageId: Int64?
        var requestId: String?
    }

    @Sendable func consume(_ request: Request, context: ServiceContext) async throws -> Response {
        let user = try await Metering.user(context, store: api.store)
        let (body, _) = try await APIJSON.body(Debit.self, from: request, allowing: ["amount", "user_id", "reason", "usage_id", "request_id"])
        try Metering.check(bodyUser: body.userId, against: user)
        let amount = body.amount.credits
        guard amount > .zero, amount <= CreditRoutes.maxBalance else {
            throw GatewayError.invalidRequest("`amount` must be positive, at most \(CreditRoutes.maxBalance).", param: "amount")
        }
        if let usage = body.usageId, try await api.store.usageEvent(id: usage)?.event.userID != user.id {
            throw GatewayError.invalidRequest("`usage_id` names no usage event of this user.", param: "usage_id")
        }
        let key = request.headers[.idempotencyKey] ?? body.requestId ?? context.requestID
        let reference = Metering.reference("consume", service: try context.serviceID(for: .creditsConsume), user: user.id, key: key)
        if let first = try await api.store.ledgerEntry(referenceID: reference) { return try debitReply(first, repeatOf: amount, user: user) }
        let note = [body.reason, body.usageId.map { "usage event \($0)" }].compactMap { $0 }.joined(separator: "; ")
        let entry = try await debit(user: user.id, amount: amount, reference: reference, note: note.isEmpty ? nil : note)
        return try debitReply(entry, repeatOf: amount, user: user)
    }

    /// Holds the credits like a request, writes the entry, then turns the hold into the charge.
    private func debit(user: Int64, amount: Credits, reference: String, note: String?) async throws -> LedgerEntry {
        let outcome: HoldOutcome
        do { outcome = try await api.credits.hold(userID: user, amount: amount, requestID: reference) } catch is CreditBook.DuplicateRequest {
            throw GatewayError.conflict("A consume with this key is running; retry to get its answer.")
        }
        if case .insufficient(let available) = outcome { throw GatewayError.insufficientCredits(needed: amount, balance: available) }
        let entry: LedgerEntry
        do {
            // Holding the reference keeps every other call with it out (they get 409), so this
            // second look cannot race: an entry found now was written by a call that ended.
            if let first = try await api.store.ledgerEntry(referenceID: reference) {
                _ = try await api.credits.settle(requestID: reference, cost: .zero)
                return first
            }
            entry = try await api.store.credit(userID: user, amount: .zero - amount, kind: .consume, referenceID: reference, note: note)
        } catch {
            _ = try? await api.credits.settle(requestID: reference, cost: .zero)
            throw error
        }
        if let settled = try await api.credits.settle(requestID: reference, cost: amount) {
            await api.credits.persisted(userID: user, charged: settled.charged, balanceAfter: entry.balanceAfter)
        }
        return entry
    }

    private func debitReply(_ entry: LedgerEntry, repeatOf amount: Credits, user: UserRecord) throws -> Response {
        guard entry.userID == user.id, entry.amount == .zero - amount else { throw GatewayError.idempotencyMismatch() }
        struct Reply: Encodable {
            var success = true
            var status = "success"
            var message: String
            var timestamp = Date()
            var remainingCredits: CreditAmount
            var consumedAmount: CreditAmount
            var data: TransactionView
        }
        return try APIJSON.response(Reply(
            message: "Successfully consumed \(amount) credits", remainingCredits: CreditAmount(entry.balanceAfter),
            consumedAmount: CreditAmount(amount), data: TransactionView(entry)))
    }

    @Sendable func recharge(_ request: Request, context: ServiceContext) async throws -> Response {
        struct Body: Decodable { var amount: CreditAmount; var userId: String?; var description: String?; var referenceId: String? }
        let user = try await Metering.user(context, store: api.store)
        let (body, _) = try await APIJSON.body(Body.self, from: request, allowing: ["amount", "user_id", "description", "reference_id"])
        try Metering.check(bodyUser: body.userId, against: user)
        let amount = body.amount.credits
        guard amount > .zero else { throw GatewayError.invalidRequest("`amount` must be positive.", param: "amount") }
        let key = body.referenceId ?? request.headers[.idempotencyKey] ?? context.requestID
        let reference = Metering.reference("recharge", service: try context.serviceID(for: .creditsRecharge), user: user.id, key: key)
        if let first = try await api.store.ledgerEntry(referenceID: reference) {
            guard first.userID == user.id, first.amount == amount else { throw GatewayError.idempotencyMismatch() }
            return try Metering.envelope("Recharged before under this reference", TransactionView(first))
        }
        if user.balance + amount > CreditRoutes.maxBalance {
            throw GatewayError.conflict("This would take the balance above \(CreditRoutes.maxBalance) credits.", param: "amount")
        }
        let note = [body.description, body.referenceId.map { "reference \($0)" }].compactMap { $0 }.joined(separator: "; ")
        let entry = try await api.store.credit(
            userID: user.id, amount: amount, kind: .recharge, referenceID: reference, note: note.isEmpty ? nil : note)
        await api.credits.invalidate(userID: user.id)
        return try Metering.envelope("Successfully recharged \(amount) credits", TransactionView(entry))
    }
}
