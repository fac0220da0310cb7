import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import SluiceCore
import SluiceStore

/// The dashboard's sign-in: the same credentials and sign-ins as `/api/auth`, held in cookies a
/// page's script cannot read (`HttpOnly`, `SameSite=Strict`, `Secure` behind TLS) instead of in
/// `localStorage`, where any script injected into the page could take them.
///
/// Cookies ride along with every request the browser makes, so a request they sign in that
/// changes something must also carry `X-CSRF-Token` with the value of the `sluice_csrf` cookie:
/// a page on another site can make the browser send the cookies, but cannot read that one.
enum BrowserSession {
    static let accessCookie = "sluice_access"
    static let refreshCookie = "sluice_refresh"
    static let csrfCookie = "sluice_csrf"
    static let csrfHeader = HTTPField.Name("X-CSRF-Token")!
    /// Only the refresh and sign-out routes ever see the refresh token.
    static let refreshPath = "/api/auth/browser"

    /// The access token of the request's cookie, when it carries no `Authorization` of its own.
    static func accessToken(_ request: Request) -> String? {
        guard request.headers[.authorization] == nil, let value = request.cookies[accessCookie]?.value, !value.isEmpty else { return nil }
        return value
    }

    /// Refuses a cookie-signed request that changes something without the CSRF token, and one
    /// that a browser says came from another site.
    static func checkCSRF(_ request: Request) throws {
        try refuseOtherSites(request)
        switch request.method {
        case .get, .head, .options: return
        default: break
        }
        guard let cookie = request.cookies[csrfCookie]?.value, !cookie.isEmpty, let header = request.headers[csrfHeader],
            Data(cookie.utf8).count == Data(header.utf8).count,
            // Compared in constant time: the token is a secret.
            zip(cookie.utf8, header.utf8).reduce(0, { $0 | ($1.0 ^ $1.1) }) == 0
        else { throw GatewayError.csrfFailed }
    }

    /// Refuses a request a browser says another site made (`Sec-Fetch-Site`); one from a program,
    /// which sends no such header, passes.
    static func refuseOtherSites(_ request: Request) throws {
        if let site = request.headers[.secFetchSite], site == "cross-site" || site == "same-site" { throw GatewayError.csrfFailed }
    }

    /// The cookies of a new or refreshed sign-in, and the CSRF token the page reads.
    static func cookies(for session: AuthRoutes.Session, refreshTTL: Int, secure: Bool) -> (cookies: [Cookie], csrf: String) {
        let csrf = AccessTokens.randomToken(bytes: 24)
        return (
            [
                Cookie(
                    name: accessCookie, value: session.accessToken, maxAge: session.expiresIn, path: "/", secure: secure, httpOnly: true,
                    sameSite: .strict),
                Cookie(
                    name: refreshCookie, value: session.refreshToken, maxAge: refreshTTL, path: refreshPath, secure: secure, httpOnly: true,
                    sameSite: .strict),
                Cookie(name: csrfCookie, value: csrf, maxAge: refreshTTL, path: "/", secure: secure, httpOnly: false, sameSite: .strict),
            ], csrf
        )
    }

    /// Cookies that replace the session's with empty, expired ones.
    static func cleared(secure: Bool) -> [Cookie] {
        [(accessCookie, "/", true), (refreshCookie, refreshPath, true), (csrfCookie, "/", false)].map { name, path, httpOnly in
            Cookie(name: name, value: "", maxAge: 0, path: path, secure: secure, httpOnly: httpOnly, sameSite: .strict)
        }
    }
}

/// `/api/auth/browser/*`: sign in, refresh and sign out with cookies, for the dashboard.
struct BrowserSessionRoutes {
    let api: APIServices
    /// Set when people reach the gateway over https (`server.public_url`): cookies are sent only there.
    let secureCookies: Bool

    struct SignedInView: Encodable {
        var user: UserView
        var csrfToken: String
    }

    func register(on registry: EndpointRegistry) {
        let answer = Schema.object([("user", AuthRoutes.userSchema), ("csrf_token", .text)])
        registry.anyone(
            Endpoint(
                method: .post, path: "/api/auth/browser/login",
                summary: """
                    Sign in a browser: as /api/auth/login, but the tokens are set as HttpOnly cookies, and the answer carries the \
                    CSRF token that requests the cookies sign in must send as X-CSRF-Token.
                    """,
                request: AuthRoutes.credentialsSchema, response: answer, errors: [401, 403, 429, 503], tag: "auth"), login)
        registry.anyone(
            Endpoint(
                method: .post, path: "/api/auth/browser/refresh",
                summary: "New cookies for the browser's sign-in, from its refresh cookie (spent, as refresh tokens are). Needs X-CSRF-Token.",
                response: answer, errors: [401, 403], tag: "auth"), refresh)
        registry.user(
            Endpoint(
                method: .post, path: "/api/auth/browser/logout", summary: "Sign the browser out: the sign-in ends on the server and its cookies are cleared.",
                status: 204, tag: "auth"), logout)
    }

    @Sendable func login(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        // No cookie yet to check a token against: a browser that says the request came from
        // another site is refused, so no page elsewhere signs a visitor in to its own account.
        try BrowserSession.refuseOtherSites(request)
        let (body, _) = try await APIJSON.body(AuthRoutes.Credentials.self, from: request, allowing: ["email", "password", "otp"])
        let auth = AuthRoutes(api: api)
        let user = try await auth.checkCredentials(body, context: context)
        return try signedIn(try await auth.startSession(user: user, request: request, context: context))
    }

    @Sendable func refresh(_ request: Request, context: SluiceRequestContext) async throws -> Response {
        try BrowserSession.checkCSRF(request)
        guard let token = request.cookies[BrowserSession.refreshCookie]?.value, !token.isEmpty else { throw GatewayError.invalidToken }
        return try signedIn(try await AuthRoutes(api: api).rotate(refreshToken: token, context: context))
    }

    @Sendable func logout(_ request: Request, context: UserContext) async throws -> Response {
        try await api.store.revokeSession(familyID: context.signedIn.sessionID)
        await api.log("logout", user: context.user.id, actor: context.user.id, context: context)
        var response = APIJSON.noContent()
        for cookie in BrowserSession.cleared(secure: secureCookies) { response.setCookie(cookie) }
        return response
    }

    private func signedIn(_ session: AuthRoutes.Session) throws -> Response {
        let (cookies, csrf) = BrowserSession.cookies(for: session, refreshTTL: api.auth.refreshTokenTTLDays * 86_400, secure: secureCookies)
        var response = try APIJSON.response(SignedInView(user: session.user, csrfToken: csrf))
        for cookie in cookies { response.setCookie(cookie) }
        return response
    }
}

extension HTTPField.Name {
    static let secFetchSite = HTTPField.Name("Sec-Fetch-Site")!
}
