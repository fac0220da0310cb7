import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// `/api/admin/teams`: site admins list teams, recharge or adjust their wallets, and set their plan.
/// Everything else about one team they reach through `/api/teams/{id}`, where the matrix lets a
/// site admin do what an owner may.
struct AdminTeamRoutes {
    let api: APIServices

    func register(on registry: EndpointRegistry) {
        registry.admin(
            Endpoint(method: .get, path: "/api/admin/teams", summary: "Every team, newest first.", query: QueryParameters.pageParameters,
                response: .object([("data", .array(.ref("Team")))]), tag: "admin"), list)
        registry.admin(
            Endpoint(
                method: .post, path: "/api/admin/teams/{id}/credits",
                summary: """
                    Recharge or adjust a team's wallet, as for a user. Send Idempotency-Key: a repeat replays the first answer.
                    """,
                request: .anyOf([
                    CreditRoutes.adjustment(type: "recharge", amount: .creditsInput(.positive), required: ["amount", "reason"]),
                    CreditRoutes.adjustment(type: "adjust", amount: .creditsInput(.nonZero), required: ["amount", "reason", "type"]),
                ]),
                response: CreditRoutes.transactionSchema, errors: [409, 422], tag: "admin"), credit)
        registry.admin(
            Endpoint(
                method: .patch, path: "/api/admin/teams/{id}", summary: "Set a team's plan: its monthly credits and shared-pool allowance.",
                request: .object([("plan", .string(values: SluiceConfig.Plan.names))], required: ["plan"], closed: true),
                response: .ref("Team"), tag: "admin"), setPlan)
    }

    @Sendable func list(_ request: Request, context: AdminContext) async throws -> Response {
        let teams = try await api.store.teams(page: try QueryParameters(request).page())
        return try APIJSON.response(TeamViews.List(data: teams.map { TeamViews.Team($0, role: nil) }))
    }

    @Sendable func credit(_ request: Request, context: AdminContext) async throws -> Response {
        try await CreditRoutes(api: api).credit(request, userID: try team(context).walletUserID, context: context)
    }

    @Sendable func setPlan(_ request: Request, context: AdminContext) async throws -> Response {
        struct Body: Decodable { var plan: String }
        let (body, _) = try await APIJSON.body(Body.self, from: request, allowing: ["plan"])
        guard api.grants.plans[body.plan] != nil else {
            throw GatewayError.invalidRequest("`plan` must be one of \(SluiceConfig.Plan.names.joined(separator: ", ")).", param: "plan")
        }
        let team = try await team(context)
        guard let wallet = try await api.store.updateUser(id: team.walletUserID, UserUpdate(plan: body.plan)),
              let changed = try await api.store.team(id: team.id)
        else { throw GatewayError.notFound("No such team.") }
        if team.plan != body.plan {
            try await api.grants.grant(wallet)
            await api.log("plan_changed", user: team.walletUserID, actor: context.admin.id, context: context, detail: "\(team.plan) -> \(body.plan)")
        }
        return try APIJSON.response(TeamViews.Team(try await api.store.team(id: team.id) ?? changed, role: nil))
    }

    private func team(_ context: AdminContext) async throws -> TeamRecord {
        guard let team = try await api.store.team(id: try APIServices.id(context)) else { throw GatewayError.notFound("No such team.") }
        return team
    }
}
