import Foundation
import HTTPTypes
import Hummingbird
import SluiceCore
import SluiceStore

/// One `/api` operation: what the router serves and what `/openapi.json` says about it, from the
/// same value, so the description cannot drift from the routes. Its access is set by the
/// `EndpointRegistry` method that registers it, the same one that puts it behind sign-in.
struct Endpoint: Sendable {
    enum Access: Sendable, Equatable {
        case anyone
        /// A signed-in user (Bearer access token).
        case user
        case admin
        /// A Sluice API key (the `/v1` endpoints).
        case apiKey
        /// A service token with this scope (the metering API).
        case service(ServiceScope)
    }

    var method: HTTPRequest.Method
    var path: String
    var summary: String
    var access = Access.anyone
    var query: [(String, Schema, String)] = []
    /// The path parameter's schema outside `/api`, where it is not an id.
    var pathSchema: Schema? = nil
    var request: Schema? = nil
    /// How the request body is sent: JSON, or `multipart/form-data` for an upload.
    var requestMediaType = "application/json"
    var status = 200
    var response: Schema? = nil
    /// How the answer is written: JSON, or `application/octet-stream` for a file's bytes.
    var responseMediaType = "application/json"
    /// Errors this operation answers beyond those its access, body, query and path imply (see
    /// `errorStatuses`): 409 for a conflict, 429 for a limit, 502 and 503 for upstream trouble.
    var errors: [Int] = []
    /// The schema, in `components.schemas`, of its error bodies: the route's own error shape.
    var errorSchema = "Error"
    /// Statuses answered with `response`'s schema rather than an error (`/health`'s 503).
    var alsoAnswersWithResponse: [Int] = []
    /// Whether a `stream: true` request is answered with server-sent events.
    var streams = false
    var tag: String
    /// For a team route: the action of `TeamPermissions` it takes, whose minimum role it needs.
    var teamAction: TeamAction? = nil

    /// Every error status the operation can answer: 400 for a bad body or query, 401 without
    /// valid credentials, 403 for a disabled user or a user who is not an admin, 404 for an `/api`
    /// id that names nothing, and `errors`.
    var errorStatuses: [Int] {
        var statuses = Set(errors)
        if request != nil || !query.isEmpty { statuses.insert(400) }
        if access != .anyone { statuses.formUnion([401, 403]) }
        if path.hasPrefix("/api"), path.contains("{") { statuses.insert(404) }
        return statuses.sorted()
    }
}

/// Collects endpoints as they are registered on the router, while `buildApplication` runs. One
/// method per access level: each documents the endpoint with that access and serves it from the
/// route group that enforces it, with the context type that carries what it proved.
final class EndpointRegistry {
    private(set) var endpoints: [Endpoint] = []
    private let router: Router<SluiceRequestContext>
    private let users: RouterGroup<UserContext>
    private let admins: RouterGroup<AdminContext>
    private let services: RouterGroup<ServiceContext>

    init(router: Router<SluiceRequestContext>, signIn: SignInMiddleware, serviceSignIn: ServiceTokenMiddleware) {
        self.router = router
        let signedIn = router.group().add(middleware: signIn)
        users = signedIn.group(context: UserContext.self)
        admins = signedIn.group(context: AdminContext.self)
        services = router.group().add(middleware: serviceSignIn).group(context: ServiceContext.self)
    }

    /// An endpoint anyone may call.
    func anyone(_ endpoint: Endpoint, _ handler: @escaping @Sendable (Request, SluiceRequestContext) async throws -> Response) {
        endpoints.append(with(endpoint, access: .anyone))
        router.on(RouterPath(endpoint.path), method: endpoint.method, use: handler)
    }

    /// An endpoint for signed-in users: 401 without a live access token.
    func user(_ endpoint: Endpoint, _ handler: @escaping @Sendable (Request, UserContext) async throws -> Response) {
        endpoints.append(with(endpoint, access: .user))
        users.on(RouterPath(endpoint.path), method: endpoint.method, use: handler)
    }

    /// An endpoint on the team at `{id}`: signed in, then checked against the team matrix
    /// (`TeamAction`), so that no team handler runs for a caller the matrix refuses.
    func team(
        _ endpoint: Endpoint, _ action: TeamAction, store: any TeamStore,
        _ handler: @escaping @Sendable (Request, UserContext, TeamAccess) async throws -> Response
    ) {
        var endpoint = endpoint
        endpoint.teamAction = action
        user(endpoint) { request, context in
            let teamID = try APIServices.id(context)
            async let team = store.team(id: teamID)
            async let member = store.teamMember(teamID: teamID, userID: context.user.id)
            let access = try TeamAccess.check(action, user: context.user, team: try await team, member: try await member)
            return try await handler(request, context, access)
        }
    }

    /// An endpoint for admins: 401 without a live access token, 403 for other users.
    func admin(_ endpoint: Endpoint, _ handler: @escaping @Sendable (Request, AdminContext) async throws -> Response) {
        endpoints.append(with(endpoint, access: .admin))
        admins.on(RouterPath(endpoint.path), method: endpoint.method, use: handler)
    }

    /// An endpoint for other services: 401 without a live service token, 403 for one without `scope`.
    func service(_ endpoint: Endpoint, scope: ServiceScope, _ handler: @escaping @Sendable (Request, ServiceContext) async throws -> Response) {
        endpoints.append(with(endpoint, access: .service(scope)))
        services.on(RouterPath(endpoint.path), method: endpoint.method) { request, context in
            guard context.caller.scopes.contains(scope) else { throw GatewayError.missingScope(scope.rawValue) }
            return try await handler(request, context)
        }
    }

    /// Adds an API-key route served elsewhere (the `/v1` handlers) to the description only.
    func describeAPIKeyRoute(_ endpoint: Endpoint) { endpoints.append(with(endpoint, access: .apiKey)) }

    /// Adds an open route served elsewhere (`/health`) to the description only.
    func describeOpenRoute(_ endpoint: Endpoint) { endpoints.append(with(endpoint, access: .anyone)) }

    private func with(_ endpoint: Endpoint, access: Endpoint.Access) -> Endpoint {
        var endpoint = endpoint
        endpoint.access = access
        return endpoint
    }
}
