import Foundation
import Hummingbird
import SluiceCore
import SluiceStore
import Synchronization

/// A user's sign-ins: where each began and was last used, and ending one or all of them. An
/// ended sign-in's tokens are revoked in the store, which every instance reads on each request,
/// so it is refused at once everywhere.
struct SignInRoutes {
    let api: APIServices

    static let signInSchema = Schema.object([
        ("id", .text), ("device", .text), ("address", .nullable(.text)), ("created_at", .time), ("last_used_at", .time),
        ("current", .boolean),
    ])

    func register(on registry: EndpointRegistry) {
        registry.user(
            Endpoint(
                method: .get, path: "/api/auth/sessions", summary: "Your sign-ins that still stand, last used first; `current` is this one.",
                response: .object([("data", .array(Self.signInSchema))]), tag: "auth"), list)
        registry.user(
            Endpoint(
                method: .delete, path: "/api/auth/sessions/{id}", summary: "End one of your sign-ins: its tokens are refused at once.",
                pathSchema: .nonEmptyText, status: 204, tag: "auth"), end)
        registry.user(
            Endpoint(
                method: .delete, path: "/api/auth/sessions", summary: "Sign out everywhere: end every sign-in of yours, this one included.",
                status: 204, tag: "auth"), endAll)
    }

    struct SignInView: Encodable {
        var id: String
        var device: String
        var address: String?
        var createdAt: Date
        var lastUsedAt: Date
        var current: Bool
    }

    @Sendable func list(_ request: Request, context: UserContext) async throws -> Response {
        struct List: Encodable { var data: [SignInView] }
        let signIns = try await api.store.liveSignIns(userID: context.user.id, now: Date())
        return try APIJSON.response(List(data: signIns.map { signIn in
            SignInView(
                id: signIn.familyID, device: signIn.device, address: signIn.address, createdAt: signIn.createdAt, lastUsedAt: signIn.lastUsedAt,
                current: signIn.familyID == context.signedIn.sessionID)
        }))
    }

    @Sendable func end(_ request: Request, context: UserContext) async throws -> Response {
        let user = context.user
        // Another user's sign-in answers exactly like one that does not exist.
        guard let id = context.parameters.get("id"), try await api.store.endSignIn(familyID: id, userID: user.id, at: Date()) else {
            throw GatewayError.notFound("No such sign-in.")
        }
        await api.log("sign_in_ended", user: user.id, actor: user.id, context: context)
        return APIJSON.noContent()
    }

    @Sendable func endAll(_ request: Request, context: UserContext) async throws -> Response {
        let user = context.user
        try await api.store.revokeAllSessions(userID: user.id)
        await api.log("signed_out_everywhere", user: user.id, actor: user.id, context: context)
        return APIJSON.noContent()
    }
}

/// Which sign-ins were marked used lately, so that `/api` requests note a sign-in's last use at
/// most once a minute rather than write on every request. Bounded: past `capacity` entries it
/// starts over, which costs at most one extra write per sign-in.
final class SignInUse: Sendable {
    private let marked = Mutex([String: Date]())
    private let interval: TimeInterval
    private let capacity: Int

    init(interval: TimeInterval = 60, capacity: Int = 10_000) {
        self.interval = interval
        self.capacity = capacity
    }

    /// Whether this use should be written.
    func shouldNote(_ familyID: String, now: Date) -> Bool {
        marked.withLock { marked in
            if let last = marked[familyID], now.timeIntervalSince(last) < interval { return false }
            if marked.count >= capacity { marked.removeAll(keepingCapacity: true) }
            marked[familyID] = now
            return true
        }
    }
}

extension SignInRecord {
    /// The device a sign-in shows: its User-Agent, shortened, or "unknown".
    static func device(userAgent: String?) -> String {
        guard let agent = userAgent?.trimmingCharacters(in: .whitespaces), !agent.isEmpty else { return "unknown" }
        return String(agent.prefix(200))
    }
}
