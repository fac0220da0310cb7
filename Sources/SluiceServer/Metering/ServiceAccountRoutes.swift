import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// `/api/admin/service-accounts`: the operator's other services, and their scoped tokens.
struct ServiceAccountRoutes {
    let api: APIServices

    static let account = Schema.object([("id", .integer), ("name", .text), ("created_at", .time)])
    static let scopes = Schema.array(.string(values: ServiceScope.allCases.map(\.rawValue)), minItems: 1)
    static let token = Schema.object([
        ("id", .integer), ("name", .text), ("prefix", .text), ("scopes", .array(.text)), ("expires_at", .nullable(.time)),
        ("revoked_at", .nullable(.time)), ("last_used_at", .nullable(.time)), ("created_at", .time),
    ])

    func register(on registry: EndpointRegistry) {
        registry.admin(
            Endpoint(
                method: .post, path: "/api/admin/service-accounts", summary: "Add a service that meters usage and credits through /api/v1.",
                request: .object([("name", .string(length: 1...100, pattern: #"\S"#))], required: ["name"], closed: true), status: 201,
                response: Self.account, errors: [409], tag: "metering"), create)
        registry.admin(
            Endpoint(
                method: .get, path: "/api/admin/service-accounts", summary: "Every service account.",
                response: .object([("data", .array(Self.account))]), tag: "metering"), list)
        registry.admin(
            Endpoint(
                method: .post, path: "/api/admin/service-accounts/{id}/tokens",
                summary: "Issue a token with scopes. The token is in this answer only; Sluice keeps its hash.",
                request: .object(
                    [("scopes", Self.scopes), ("name", .nullable(.string(length: 1...100))), ("expires_at", .nullable(.time))],
                    required: ["scopes"], closed: true),
                status: 201, response: .object([("token", .text), ("id", .integer), ("prefix", .text), ("scopes", .array(.text))]),
                tag: "metering"), issue)
        registry.admin(
            Endpoint(
                method: .get, path: "/api/admin/service-accounts/{id}/tokens", summary: "A service's tokens, with their last use.",
                response: .object([("data", .array(Self.token))]), tag: "metering"), tokens)
        registry.admin(
            Endpoint(
                method: .delete, path: "/api/admin/service-tokens/{id}", summary: "Revoke a token: it is refused from now on.", status: 204,
                tag: "metering"), revoke)
    }

    struct AccountView: Encodable {
        var id: Int64
        var name: String
        var createdAt: Date
        init(_ record: ServiceAccountRecord) {
            id = record.id
            name = record.name
            createdAt = record.createdAt
        }
    }

    struct TokenView: Encodable {
        var id: Int64
        var name: String
        var prefix: String
        var scopes: [String]
        var expiresAt: Date?
        var revokedAt: Date?
        var lastUsedAt: Date?
        var createdAt: Date
        init(_ record: ServiceTokenRecord) {
            id = record.id
            name = record.name
            prefix = record.prefix
            scopes = record.scopes.map(\.rawValue)
            expiresAt = record.expiresAt
            revokedAt = record.revokedAt
            lastUsedAt = record.lastUsedAt
            createdAt = record.createdAt
        }
    }

    @Sendable func create(_ request: Request, context: AdminContext) async throws -> Response {
        struct Body: Decodable { var name: String }
        let (body, _) = try await APIJSON.body(Body.self, from: request, allowing: ["name"])
        let name = body.name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...100).contains(name.count) else { throw GatewayError.invalidRequest("`name` is 1 to 100 characters.", param: "name") }
        do {
            let account = try await api.store.createServiceAccount(name: name, createdBy: context.admin.id)
            await api.log("service_account_created", user: context.admin.id, actor: context.admin.id, context: context, detail: name)
            return try APIJSON.response(AccountView(account), status: .created)
        } catch is StoreConflict {
            throw GatewayError.conflict("A service account named \(name) exists.", param: "name")
        }
    }

    @Sendable func list(_ request: Request, context: AdminContext) async throws -> Response {
        struct List: Encodable { var data: [AccountView] }
        return try APIJSON.response(List(data: try await api.store.serviceAccounts().map(AccountView.init)))
    }

    @Sendable func issue(_ request: Request, context: AdminContext) async throws -> Response {
        struct Body: Decodable { var scopes: [String]; var name: String?; var expiresAt: Date? }
        let (body, _) = try await APIJSON.body(Body.self, from: request, allowing: ["scopes", "name", "expires_at"])
        guard let account = try await api.store.serviceAccount(id: try APIServices.id(context)) else {
            throw GatewayError.notFound("No such service account.")
        }
        var scopes: [ServiceScope] = []
        for text in body.scopes {
            guard let scope = ServiceScope(rawValue: text) else {
                let known = ServiceScope.allCases.map(\.rawValue).joined(separator: ", ")
                throw GatewayError.invalidRequest("Unknown scope `\(text)`; scopes are \(known).", param: "scopes")
            }
            if !scopes.contains(scope) { scopes.append(scope) }
        }
        guard !scopes.isEmpty else { throw GatewayError.invalidRequest("Name at least one scope.", param: "scopes") }
        if let expiry = body.expiresAt, expiry <= Date() {
            throw GatewayError.invalidRequest("`expires_at` must be in the future.", param: "expires_at")
        }
        let name = body.name ?? "token"
        guard (1...100).contains(name.count) else { throw GatewayError.invalidRequest("`name` is 1 to 100 characters.", param: "name") }
        let made = ServiceTokenAuthenticator.make()
        let id = try await api.store.createServiceToken(NewServiceToken(
            serviceAccountID: account.id, name: name, tokenHash: made.hash, prefix: made.prefix, scopes: scopes, expiresAt: body.expiresAt))
        await api.log(
            "service_token_issued", user: context.admin.id, actor: context.admin.id, context: context,
            detail: "\(account.name) \(made.prefix) \(scopes.map(\.rawValue).joined(separator: " "))")
        struct Issued: Encodable { var token: String; var id: Int64; var prefix: String; var scopes: [String] }
        return try APIJSON.response(Issued(token: made.token, id: id, prefix: made.prefix, scopes: scopes.map(\.rawValue)), status: .created)
    }

    @Sendable func tokens(_ request: Request, context: AdminContext) async throws -> Response {
        let id = try APIServices.id(context)
        guard try await api.store.serviceAccount(id: id) != nil else { throw GatewayError.notFound("No such service account.") }
        struct List: Encodable { var data: [TokenView] }
        return try APIJSON.response(List(data: try await api.store.serviceTokens(serviceAccountID: id).map(TokenView.init)))
    }

    @Sendable func revoke(_ request: Request, context: AdminContext) async throws -> Response {
        let id = try APIServices.id(context)
        guard try await api.store.revokeServiceToken(id: id, now: Date()) else { throw GatewayError.notFound("No such live service token.") }
        await api.log("service_token_revoked", user: context.admin.id, actor: context.admin.id, context: context, detail: "token \(id)")
        return APIJSON.noContent()
    }
}
