import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// `/api/admin/users`: find users, change their status, role, trust level and plan, read their activity.
struct AdminUserRoutes {
    let api: APIServices

    struct Update: Decodable {
        var status: UserStatus?
        var role: UserRole?
        var trustLevel: Int?
        var plan: String?
        var lowBalanceThreshold: CreditAmount?
    }

    func register(on registry: EndpointRegistry) {
        registry.admin(
            Endpoint(
                method: .get, path: "/api/admin/users", summary: "Users, newest first; `search` matches part of the email.",
                query: [("search", .text, "Part of an email.")] + QueryParameters.pageParameters,
                response: .object([("data", .array(.ref("User")))]), tag: "admin"), list)
        registry.admin(
            Endpoint(method: .get, path: "/api/admin/users/{id}", summary: "One user.", response: .ref("User"), tag: "admin"),
            show)
        registry.admin(
            Endpoint(
                method: .patch, path: "/api/admin/users/{id}",
                summary: "Change a user's status, role, trust level, plan, or the balance below which a balance.low webhook fires.",
                request: .object(
                    [
                        ("status", .nullable(.string(values: ["active", "disabled", "muted"]))), ("role", .nullable(.string(values: ["user", "admin"]))),
                        ("trust_level", .nullable(.boundedInteger(0...4))), ("plan", .nullable(.string(values: SluiceConfig.Plan.names))),
                        ("low_balance_threshold", .nullable(.creditsInput(.positive))),
                    ], closed: true),
                response: .ref("User"), tag: "admin"), update)
        registry.admin(
            Endpoint(
                method: .get, path: "/api/admin/users/{id}/activity",
                summary: "Sign-ins, key changes, credit and plan changes: who, when, from where.",
                query: QueryParameters.pageParameters,
                response: .object([("data", .array(.ref("Activity"))), ("next_cursor", .nullable(.integer))]), tag: "admin"), activity)
    }

    @Sendable func list(_ request: Request, context: AdminContext) async throws -> Response {
        let q = QueryParameters(request)
        let users = try await api.store.users(search: q.string("search"), page: try q.page())
        struct List: Encodable { var data: [UserView] }
        return try APIJSON.response(List(data: users.map(UserView.init)))
    }

    @Sendable func show(_ request: Request, context: AdminContext) async throws -> Response {
        guard let user = try await api.store.user(id: try APIServices.id(context)) else { throw GatewayError.notFound("No such user.") }
        return try APIJSON.response(UserView(user))
    }

    @Sendable func update(_ request: Request, context: AdminContext) async throws -> Response {
        let admin = context.admin
        let id = try APIServices.id(context)
        let (body, _) = try await APIJSON.body(Update.self, from: request, allowing: ["status", "role", "trust_level", "plan", "low_balance_threshold"])
        if let trust = body.trustLevel, !(0...4).contains(trust) {
            throw GatewayError.invalidRequest("`trust_level` must be from 0 to 4.", param: "trust_level")
        }
        if let plan = body.plan, api.grants.plans[plan] == nil {
            throw GatewayError.invalidRequest("`plan` must be one of \(SluiceConfig.Plan.names.joined(separator: ", ")).", param: "plan")
        }
        if id == admin.id, body.role == .user || body.status == .disabled {
            // Forbidden rather than invalid: the same change is fine for any other admin to make.
            throw GatewayError(
                status: 403, type: "permission_error", code: "cannot_change_self", param: body.role != nil ? "role" : "status",
                message: "Admins cannot demote or disable themselves; ask another admin.", shouldRetry: false)
        }
        guard let before = try await api.store.user(id: id) else { throw GatewayError.notFound("No such user.") }
        guard let after = try await api.store.updateUser(
            id: id,
            UserUpdate(
                status: body.status, role: body.role, trustLevel: body.trustLevel, plan: body.plan,
                lowBalanceThreshold: body.lowBalanceThreshold?.credits))
        else { throw GatewayError.notFound("No such user.") }

        if after.status == .disabled, before.status != .disabled {
            try await api.store.revokeAllSessions(userID: id)
        }
        if after.plan != before.plan { try await api.grants.grant(after) }
        for (action, old, new) in [
            ("status_changed", before.status.rawValue, after.status.rawValue), ("role_changed", before.role.rawValue, after.role.rawValue),
            ("trust_changed", String(before.trustLevel), String(after.trustLevel)), ("plan_changed", before.plan, after.plan),
        ] where old != new {
            await api.log(action, user: id, actor: admin.id, context: context, detail: "\(old) -> \(new)")
        }
        return try APIJSON.response(UserView(try await api.store.user(id: id) ?? after))
    }

    @Sendable func activity(_ request: Request, context: AdminContext) async throws -> Response {
        let id = try APIServices.id(context)
        guard try await api.store.user(id: id) != nil else { throw GatewayError.notFound("No such user.") }
        let page = try QueryParameters(request).page()
        let entries = try await api.store.activity(userID: id, page: page)
        return try APIJSON.response(Page(entries.map(ActivityView.init), limit: page.limit, id: \.id))
    }
}
