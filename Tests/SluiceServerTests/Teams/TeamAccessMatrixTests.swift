import Foundation
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

/// The RBAC matrix of docs/teams.md, route by route, for each kind of caller: owner, admin,
/// member, someone outside the team (an admin of another team), and a site admin.
@Suite struct TeamAccessMatrixTests {
    enum Caller: String, CaseIterable { case owner, admin, member, outsider, siteAdmin }

    /// Every team route and the lowest team role it needs, as the documentation states it.
    static let matrix: [(method: String, path: String, minimum: TeamRole, body: String?)] = [
        ("GET", "/api/teams/{id}", .member, nil),
        ("PATCH", "/api/teams/{id}", .admin, #"{"name":"Renamed"}"#),
        ("GET", "/api/teams/{id}/members", .member, nil),
        ("POST", "/api/teams/{id}/members", .admin, #"{"email":"{newcomer}"}"#),
        ("PATCH", "/api/teams/{id}/members/{user_id}", .admin, #"{"spend_limit":5}"#),
        ("DELETE", "/api/teams/{id}/members/{user_id}", .admin, nil),
        ("POST", "/api/teams/{id}/leave", .member, nil),
        ("POST", "/api/teams/{id}/transfer", .owner, #"{"user_id":{user_id}}"#),
        ("POST", "/api/teams/{id}/invitations", .admin, #"{"email":"invitee@example.com"}"#),
        ("GET", "/api/teams/{id}/invitations", .admin, nil),
        ("DELETE", "/api/teams/{id}/invitations/{invitation_id}", .admin, nil),
        ("GET", "/api/teams/{id}/api-keys", .member, nil),
        ("POST", "/api/teams/{id}/api-keys", .member, "{}"),
        ("DELETE", "/api/teams/{id}/api-keys/{key_id}", .member, nil),
        ("GET", "/api/teams/{id}/credits/transactions", .admin, nil),
        ("POST", "/api/teams/{id}/credits/redeem", .member, #"{"code":"no-such-code"}"#),
        ("GET", "/api/teams/{id}/accounts", .member, nil),
        ("POST", "/api/teams/{id}/accounts", .admin, #"{"provider":"mock","secret":"team-added"}"#),
        ("PATCH", "/api/teams/{id}/accounts/{account_id}", .admin, #"{"priority":3}"#),
        ("DELETE", "/api/teams/{id}/accounts/{account_id}", .admin, nil),
        ("GET", "/api/teams/{id}/usage/logs", .admin, nil),
        ("GET", "/api/teams/{id}/usage/stats", .admin, nil),
        ("GET", "/api/teams/{id}/usage/members", .admin, nil),
        ("GET", "/api/teams/{id}/activity", .admin, nil),
    ]

    struct People {
        var owner, admin, member, target, outsider, siteAdmin: Harness.Session
        var newcomers: [String]
    }

    /// A team with an admin, a member and a second member to act on, each with a team key, a
    /// pending invitation and a team account.
    struct World {
        var team: Int64
        var replacements: [String: String]
    }

    func makeWorld(_ h: Harness, _ people: People, newcomer: String) async throws -> World {
        // Straight in the store: one owner of this many teams is past what the API lets one person own.
        let team = try await h.gateway.store.createTeam(name: "T", ownerUserID: people.owner.userID, at: Date()).id
        for (session, role) in [(people.admin, "admin"), (people.member, "member"), (people.target, "member")] {
            let added = try await h.gateway.store.addTeamMember(teamID: team, userID: session.userID, role: TeamRole(rawValue: role)!, at: Date())
            try #require(added != nil)
        }
        let key = try await h.api("/api/teams/\(team)/api-keys", method: .POST, body: "{}", as: people.target)
        let invitation = try await h.api("/api/teams/\(team)/invitations", method: .POST, body: #"{"email":"pending@example.com"}"#, as: people.owner)
        let account = try await h.api(
            "/api/teams/\(team)/accounts", method: .POST, body: #"{"provider":"mock","secret":"team-account"}"#, as: people.owner)
        try #require(key.status == 201 && invitation.status == 201 && account.status == 201, "\(key.text) \(invitation.text) \(account.text)")
        return World(
            team: team,
            replacements: [
                "{id}": "\(team)", "{user_id}": "\(people.target.userID)", "{key_id}": "\(key.json!["id"]!)",
                "{invitation_id}": "\(invitation.json!["id"]!)", "{account_id}": "\(account.json!["id"]!)", "{newcomer}": newcomer,
            ])
    }

    func session(_ caller: Caller, _ people: People) -> Harness.Session {
        switch caller {
        case .owner: people.owner
        case .admin: people.admin
        case .member: people.member
        case .outsider: people.outsider
        case .siteAdmin: people.siteAdmin
        }
    }

    func role(_ caller: Caller) -> TeamRole? {
        switch caller {
        case .owner, .siteAdmin: .owner
        case .admin: .admin
        case .member: .member
        case .outsider: nil
        }
    }

    @Test func everyTeamRouteAnswersEachCallerAsTheMatrixSays() async throws {
        try await Harness.run { h in
            try await h.account(secret: "up")
            let outsider = try await h.signUp()
            // The outsider runs a team of their own: being an admin somewhere is no key to elsewhere.
            #expect(try await h.api("/api/teams", method: .POST, body: #"{"name":"Elsewhere"}"#, as: outsider).status == 201)
            var newcomers: [String] = []
            for _ in 0..<(Self.matrix.count * Caller.allCases.count) {
                let email = "n\(UUID().uuidString.prefix(8))@test.dev"
                _ = try await h.gateway.store.createUser(NewUser(email: email))
                newcomers.append(email)
            }
            let people = People(
                owner: try await h.signUp(), admin: try await h.signUp(), member: try await h.signUp(), target: try await h.signUp(),
                outsider: outsider, siteAdmin: try await h.signInAdmin(), newcomers: newcomers)
            var failures: [String] = []
            var index = 0
            for route in Self.matrix {
                for caller in Caller.allCases {
                    let world = try await makeWorld(h, people, newcomer: newcomers[index])
                    index += 1
                    var path = route.path
                    var body = route.body
                    for (placeholder, value) in world.replacements {
                        path = path.replacingOccurrences(of: placeholder, with: value)
                        body = body?.replacingOccurrences(of: placeholder, with: value)
                    }
                    let reply = try await h.api(path, method: .init(rawValue: route.method), body: body, as: session(caller, people))
                    let message = reply.error?["message"] as? String
                    let refusedAsStranger = reply.status == 404 && message == "No such team."
                    let refusedForRole = reply.status == 403 && reply.errorCode == "team_role_required"
                    let expected: String
                    let held: Bool
                    if let role = role(caller) {
                        if role >= route.minimum {
                            expected = "allowed"
                            held = !refusedAsStranger && !refusedForRole && reply.status < 500
                        } else {
                            expected = "403"
                            held = refusedForRole
                        }
                    } else {
                        expected = "404"
                        held = refusedAsStranger
                    }
                    if !held { failures.append("\(route.method) \(route.path) as \(caller): expected \(expected), got \(reply.status) \(reply.text)") }
                }
            }
            #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
        }
    }

    /// The matrix above covers every team route the gateway serves, and `/openapi.json` states the
    /// same minimum role for each.
    @Test func theOpenAPIDocumentListsTheMatrix() async throws {
        try await Harness.run { h in
            let document = try #require(try await h.request("/openapi.json", method: .GET, body: nil, key: nil).json)
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            var documented: [String: String] = [:]
            for (path, operations) in paths {
                for (method, operation) in operations {
                    guard let operation = operation as? [String: Any], let role = operation["x-team-role"] as? String else { continue }
                    documented["\(method.uppercased()) \(path)"] = role
                }
            }
            let expected = Dictionary(uniqueKeysWithValues: Self.matrix.map { ("\($0.method) \($0.path)", $0.minimum.rawValue) })
            #expect(documented == expected)
        }
    }

    /// Another team's keys and accounts are not there for an admin of this team, even through
    /// this team's own paths.
    @Test func anotherTeamsResourcesAreNotFoundThroughYourTeam() async throws {
        try await Harness.run { h in
            let alice = try await h.signUp()
            let bob = try await h.signUp()
            let mine = try #require(try await h.api("/api/teams", method: .POST, body: #"{"name":"A"}"#, as: alice).json?["id"] as? Int)
            let theirs = try #require(try await h.api("/api/teams", method: .POST, body: #"{"name":"B"}"#, as: bob).json?["id"] as? Int)
            let key = try #require(try await h.api("/api/teams/\(theirs)/api-keys", method: .POST, body: "{}", as: bob).json?["id"] as? Int)
            let account = try #require(
                try await h.api("/api/teams/\(theirs)/accounts", method: .POST, body: #"{"provider":"mock","secret":"b"}"#, as: bob).json?["id"] as? Int)
            #expect(try await h.api("/api/teams/\(mine)/api-keys/\(key)", method: .DELETE, as: alice).status == 404)
            #expect(try await h.api("/api/teams/\(mine)/accounts/\(account)", method: .DELETE, as: alice).status == 404)
            #expect(try await h.api("/api/teams/\(mine)/members/\(bob.userID)", method: .DELETE, as: alice).status == 404)
            #expect(try await h.api("/api/teams/\(theirs)/api-keys", as: alice).status == 404)
            // Nor is a team's account one of its owner's own.
            #expect(try await h.api("/api/accounts/\(account)", method: .DELETE, as: bob).status == 404)
            #expect(try await h.api("/api/teams/\(theirs)/api-keys", as: bob).list.count == 1)
        }
    }

    /// A team's wallet is a `users` row, but never a person: its address cannot be registered,
    /// signed in with, or taken by an email change.
    @Test func aWalletCannotBeSignedInto() async throws {
        try await Harness.run { h in
            let owner = try await h.signUp()
            let teamID = try #require(try await h.api("/api/teams", method: .POST, body: #"{"name":"W"}"#, as: owner).json?["id"] as? Int)
            let team = try #require(try await h.gateway.store.team(id: Int64(teamID)))
            let wallet = try #require(try await h.gateway.store.user(id: team.walletUserID)).email
            let other = "someone@TEAMS.sluice.invalid"
            for address in [wallet, other] {
                let registered = try await h.request("/api/auth/register", body: #"{"email":"\#(address)","password":"\#(Harness.password)"}"#, key: nil)
                #expect(registered.status == 400 && registered.error?["param"] as? String == "email", "\(registered.text)")
            }
            let login = try await h.request("/api/auth/login", body: #"{"email":"\#(wallet)","password":"\#(Harness.password)"}"#, key: nil)
            #expect(login.status == 401)
            let changed = try await h.api("/api/auth/email/change", method: .POST, body: #"{"email":"\#(wallet)","password":"\#(Harness.password)"}"#, as: owner)
            #expect(changed.status == 400 || changed.status == 404, "\(changed.text)")
        }
    }
}
