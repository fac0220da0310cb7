import Foundation
import Hummingbird
import SluiceCore
import SluiceStore

/// What a team spends and with what: its API keys, its wallet's ledger, codes and purchases, its
/// upstream accounts, and its usage and activity. Each reuses the user routes' code with the
/// team's wallet in place of the signed-in user.
struct TeamWalletRoutes {
    let api: APIServices
    let keys: APIKeyRoutes
    /// Present when `payments.stripe` is configured.
    let payments: PaymentRoutes?

    /// Team keys one member may hold at once.
    static let maxKeysPerMember = 100

    func register(on registry: EndpointRegistry) {
        let store = api.store
        let key = APIKeyRoutes.keySchema
        registry.team(
            Endpoint(method: .get, path: "/api/teams/{id}/api-keys", summary: "Team keys: your own, or every member's for admins.",
                response: .object([("data", .array(key))]), tag: "teams"), .useKeys, store: store, listKeys)
        registry.team(
            Endpoint(
                method: .post, path: "/api/teams/{id}/api-keys",
                summary: "Make a team key: it spends the team's wallet, within your spending limit on it. The key is in this answer only.",
                request: APIKeyRoutes.newKeySchema, status: 201, response: key, errors: [409], tag: "teams"), .useKeys, store: store, createKey)
        registry.team(
            Endpoint(method: .delete, path: "/api/teams/{id}/api-keys/{key_id}", summary: "Revoke a team key: your own, or any for admins.",
                status: 204, tag: "teams"), .useKeys, store: store, revokeKey)
        registry.team(
            Endpoint(
                method: .get, path: "/api/teams/{id}/credits/transactions", summary: "The wallet's ledger, newest first.",
                query: [("type", .string(values: ["recharge", "grant", "consume", "refund", "adjust"]), "Only this kind.")]
                    + [("from", .timeOrDate, "From this time or date."), ("to", .timeOrDate, "Before this time or date.")]
                    + QueryParameters.pageParameters,
                response: .object([("data", .array(.ref("Transaction"))), ("next_cursor", .nullable(.integer))]), tag: "teams"),
            .viewWallet, store: store, { request, _, access in try await CreditRoutes(api: api).transactions(request, userID: access.team.walletUserID) })
        registry.team(
            Endpoint(
                method: .post, path: "/api/teams/{id}/credits/redeem", summary: "Redeem a code into the team's wallet. A wallet redeems a code once.",
                request: .object([("code", .nonEmptyText)], required: ["code"], closed: true),
                response: .object([("credited", .credits), ("balance", .credits)]), errors: [409], tag: "teams"),
            .redeemCode, store: store, { request, context, access in
                try await CreditRoutes(api: api).redeem(request, into: access.team.walletUserID, context: context)
            })
        if let payments {
            registry.team(
                Endpoint(
                    method: .post, path: "/api/teams/{id}/payments/checkout", summary: "Buy a credit pack for the team's wallet through Stripe.",
                    request: .object([("pack", .nonEmptyText)], required: ["pack"], closed: true), status: 201,
                    response: .object([("id", .text), ("url", .text)]), errors: [502], tag: "teams"),
                .buyCredits, store: store, { request, context, access in
                    try await payments.checkout(request, for: try await wallet(access), context: context)
                })
        }
        registerAccounts(registry)
        registerUsage(registry)
    }

    private func registerAccounts(_ registry: EndpointRegistry) {
        let accounts = AccountRoutes(api: api)
        let account = Schema.ref("Account")
        registry.team(
            Endpoint(method: .get, path: "/api/teams/{id}/accounts", summary: "The team's upstream accounts: they serve its keys after a member's own.",
                response: .object([("data", .array(account))]), tag: "teams"),
            .viewAccounts, store: api.store, { _, _, access in try accounts.views(try await api.store.accounts(ownerUserID: access.team.walletUserID)) })
        registry.team(
            Endpoint(method: .post, path: "/api/teams/{id}/accounts", summary: "Add an upstream account owned by the team, with the same share modes as yours.",
                request: accounts.newAccountSchema(), status: 201, response: account, errors: [409], tag: "teams"),
            .manageAccounts, store: api.store, { request, context, access in
                try await accounts.create(request, owner: access.team.walletUserID, context: context)
            })
        registry.team(
            Endpoint(method: .patch, path: "/api/teams/{id}/accounts/{account_id}", summary: "Change a team account.",
                request: AccountRoutes.changeSchema, response: account, tag: "teams"),
            .manageAccounts, store: api.store, { request, context, access in
                try await accounts.update(request, owner: access.team.walletUserID, accountID: try APIServices.id(context, "account_id"), context: context)
            })
        registry.team(
            Endpoint(method: .delete, path: "/api/teams/{id}/accounts/{account_id}", summary: "Remove a team account.", status: 204, tag: "teams"),
            .manageAccounts, store: api.store, { _, context, access in
                try await accounts.remove(owner: access.team.walletUserID, accountID: try APIServices.id(context, "account_id"), context: context)
            })
    }

    private func registerUsage(_ registry: EndpointRegistry) {
        let usage = UsageRoutes(api: api)
        let filters = UsageRoutes.filters.filter { $0.0 != "user_id" }
        registry.team(
            Endpoint(method: .get, path: "/api/teams/{id}/usage/logs", summary: "The team keys' request logs, newest first.",
                query: filters + QueryParameters.pageParameters,
                response: .object([("data", .array(.ref("UsageLog"))), ("next_cursor", .nullable(.integer))]), tag: "teams"),
            .viewUsage, store: api.store, { request, _, access in try await usage.logs(try UsageRoutes.query(request, owner: access.team.walletUserID)) })
        registry.team(
            Endpoint(method: .get, path: "/api/teams/{id}/usage/stats", summary: "The team's usage totals, broken down as /api/usage/stats does.",
                query: filters, response: .object([("total", .ref("UsageTotals"))]), tag: "teams"),
            .viewUsage, store: api.store, { request, _, access in try await usage.stats(try UsageRoutes.query(request, owner: access.team.walletUserID)) })
        registry.team(
            Endpoint(method: .get, path: "/api/teams/{id}/usage/members", summary: "Requests, tokens and credits per member, most spent first.",
                response: .object([("data", .array(.ref("TeamMemberUsage")))]), tag: "teams"),
            .viewUsage, store: api.store, { _, _, access in
                try APIJSON.response(TeamViews.List(data: try await api.store.teamUsageByMember(teamID: access.team.id).map(TeamViews.MemberUsage.init)))
            })
        registry.team(
            Endpoint(method: .get, path: "/api/teams/{id}/activity", summary: "Who did what to the team: members, keys, accounts, credits.",
                query: QueryParameters.pageParameters,
                response: .object([("data", .array(.ref("Activity"))), ("next_cursor", .nullable(.integer))]), tag: "teams"),
            .viewActivity, store: api.store, { request, _, access in
                let page = try QueryParameters(request).page()
                let entries = try await api.store.activity(userID: access.team.walletUserID, page: page)
                return try APIJSON.response(Page(entries.map(ActivityView.init), limit: page.limit, id: \.id))
            })
    }

    // MARK: - Keys

    @Sendable func listKeys(_ request: Request, context: UserContext, access: TeamAccess) async throws -> Response {
        let all = try await api.store.apiKeys(userID: access.team.walletUserID)
        let visible = access.role >= .admin ? all : all.filter { $0.teamMember?.membershipID == access.member?.id }
        return try APIJSON.response(TeamViews.List(data: visible.map { APIKeyView($0) }))
    }

    @Sendable func createKey(_ request: Request, context: UserContext, access: TeamAccess) async throws -> Response {
        guard let member = access.member else { throw GatewayError.conflict("Only members make team keys: a key spends as its member.") }
        let (body, _) = try await APIJSON.body(APIKeyRoutes.NewKey.self, from: request, allowing: APIKeyRoutes.fields)
        let limits = try keys.validate(body)
        let mine = try await api.store.apiKeys(userID: access.team.walletUserID).filter { $0.teamMember?.membershipID == member.id && $0.revokedAt == nil }
        guard mine.count < Self.maxKeysPerMember else {
            throw GatewayError.conflict("You have \(Self.maxKeysPerMember) keys on this team, the most allowed. Revoke one first.")
        }
        let issued = try await APIKeyIssuer.issue { hash, prefix in
            try await api.store.createTeamAPIKey(
                walletUserID: access.team.walletUserID, membershipID: member.id, name: body.name ?? "", keyHash: hash, prefix: prefix, limits: limits)
        }
        guard let record = try await api.store.apiKeys(userID: access.team.walletUserID).first(where: { $0.id == issued.id }) else {
            throw GatewayError.internalError()
        }
        await api.log("key_created", access, context, detail: "key \(issued.id) \(issued.prefix) of user \(member.userID)")
        return try APIJSON.response(APIKeyView(record, key: issued.key), status: .created)
    }

    @Sendable func revokeKey(_ request: Request, context: UserContext, access: TeamAccess) async throws -> Response {
        let id = try APIServices.id(context, "key_id")
        let key = try await api.store.apiKeys(userID: access.team.walletUserID).first { $0.id == id }
        // A member's view of the team has only their own keys; anyone else's is a 404 to them.
        guard let key, access.role >= .admin || key.teamMember?.membershipID == access.member?.id,
              let hash = try await api.store.revokeAPIKey(id: id, userID: access.team.walletUserID)
        else { throw GatewayError.notFound("No such API key.") }
        api.keyCache.forget(hash: hash)
        await api.log("key_revoked", access, context, detail: "key \(id)")
        return APIJSON.noContent()
    }

    private func wallet(_ access: TeamAccess) async throws -> UserRecord {
        guard let wallet = try await api.store.user(id: access.team.walletUserID) else { throw GatewayError.notFound("No such team.") }
        return wallet
    }
}
