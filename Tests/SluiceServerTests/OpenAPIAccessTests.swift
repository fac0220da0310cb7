import Foundation
import NIOHTTP1
import Testing

/// What `/openapi.json` says about each operation's access is what the server enforces: the
/// walk covers every documented operation, so a route registered with the wrong access level, or
/// documented without being served, fails here.
@Suite struct OpenAPIAccessTests {
    enum Access: Equatable {
        case anyone, user, admin, apiKey
        case service(scope: String)
    }

    @Test func everyDocumentedOperationEnforcesTheAccessItDocuments() async throws {
        try await Harness.run { h in
            let document = try #require(try await h.request("/openapi.json", method: .GET, key: nil).json)
            let paths = try #require(document["paths"] as? [String: [String: [String: Any]]])
            let user = try await h.signUp()
            let admin = try await h.signInAdmin()
            let apiKey = try await h.user().key

            // Sign-out (a program's or a browser's) revokes the token it is called with: last, and with a user of its own.
            let signOuts: Set<String> = ["/api/auth/logout", "/api/auth/browser/logout"]
            let operations = paths.flatMap { path, methods in methods.map { (path: path, method: $0.key, operation: $0.value) } }
                .sorted { (signOuts.contains($0.path) ? 1 : 0, $0.path, $0.method) < (signOuts.contains($1.path) ? 1 : 0, $1.path, $1.method) }
            #expect(operations.count > 25, "the walk covers the whole document")
            for (path, method, operation) in operations {
                let access = try access(of: operation)
                let url = path.replacingOccurrences(of: #"\{[a-z_]+\}"#, with: "1", options: .regularExpression)
                let name = "\(method.uppercased()) \(path) (documented as \(access))"
                func status(_ token: String?) async throws -> Int {
                    try await h.request(url, method: HTTPMethod(rawValue: method.uppercased()), body: "{}", key: token).status
                }

                let anonymous = try await status(nil)
                #expect(![404, 405].contains(anonymous), "\(name) is not served")
                #expect((anonymous == 401) == (access != .anyone), "\(name) answered \(anonymous) without credentials")
                switch access {
                case .anyone:
                    break
                case .apiKey:
                    let keyed = try await status(apiKey)
                    #expect(![401, 403].contains(keyed), "\(name) refused an API key with \(keyed)")
                case .user:
                    // Signing out (here, or everywhere) ends sign-ins of its user: that user is its own.
                    let signsOut = (path, method) == ("/api/auth/sessions", "delete") || signOuts.contains(path)
                    let signedIn = try await status(signsOut ? try await h.signUp().access : user.access)
                    #expect(![401, 403].contains(signedIn), "\(name) refused a signed-in user with \(signedIn)")
                case .admin:
                    let notAdmin = try await status(user.access)
                    #expect(notAdmin == 403, "\(name) answered \(notAdmin) to a user who is not an admin")
                    let signedInAdmin = try await status(admin.access)
                    #expect(![401, 403].contains(signedInAdmin), "\(name) refused an admin with \(signedInAdmin)")
                case .service(let scope):
                    #expect(try await status(user.access) == 401, "\(name) took a user's access token")
                    // Made here: the walk's DELETE of a service token revokes whichever has id 1.
                    let scoped = try await status(try await MeteringAPITests.token(h, admin: admin).token)
                    #expect(![401, 403].contains(scoped), "\(name) refused a service token with every scope with \(scoped)")
                    let others = MeteringAPITests.allScopes.filter { $0 != scope }
                    let lacking = try await MeteringAPITests.token(h, admin: admin, scopes: others).token
                    #expect(try await status(lacking) == 403, "\(name) took a token without \(scope)")
                }
            }
        }
    }

    /// The access the document gives an operation: its security scheme, and the role it requires.
    private func access(of operation: [String: Any]) throws -> Access {
        let security = try #require(operation["security"] as? [[String: Any]], "every operation states its security")
        guard let scheme = security.first?.keys.first else { return .anyone }
        switch scheme {
        case "apiKey": return .apiKey
        case "serviceToken": return .service(scope: try #require(operation["x-required-scope"] as? String))
        case "accessToken": return operation["x-required-role"] as? String == "admin" ? .admin : .user
        default:
            Issue.record("unknown security scheme \(scheme)")
            return .anyone
        }
    }
}
