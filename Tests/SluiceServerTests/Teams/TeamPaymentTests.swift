import Foundation
import SluiceCore
import SluiceServer
import SluiceStore
import Testing

/// A team's admins buy credit packs for its wallet through the same Stripe Checkout and webhook as a
/// user's; the wallet is credited once, and nobody's own balance moves.
@Suite struct TeamPaymentTests {
    typealias S = StripeHarness

    @Test func aPackBoughtForATeamIsCreditedToItsWalletOnce() async throws {
        try await S.run { s in
            let owner = try await s.h.signUp()
            let member = try await s.h.signUp()
            let teamID = try #require(try await s.h.api("/api/teams", method: .POST, body: #"{"name":"Buyers"}"#, as: owner).json?["id"] as? Int)
            let team = try #require(try await s.h.gateway.store.team(id: Int64(teamID)))
            _ = try await s.h.gateway.store.addTeamMember(teamID: team.id, userID: member.userID, role: .member, at: Date())
            let path = "/api/teams/\(teamID)/payments/checkout"

            // Buying is an admin's: a member is refused, an outsider does not see the team.
            let byMember = try await s.h.api(path, method: .POST, body: #"{"pack":"starter"}"#, as: member)
            #expect(byMember.status == 403 && byMember.errorCode == "team_role_required")
            #expect(try await s.h.api(path, method: .POST, body: #"{"pack":"starter"}"#, as: try await s.h.signUp()).status == 404)

            let started = try await s.h.api(path, method: .POST, body: #"{"pack":"starter"}"#, as: owner)
            #expect(started.status == 201, "\(started.text)")
            let sessionID = try #require(started.json?["id"] as? String)
            let checkout = try #require(s.stripe.calls.last)
            #expect(checkout.form["client_reference_id"] == String(team.walletUserID))
            let customer = try #require(try await s.h.gateway.store.stripeCustomer(userID: team.walletUserID))

            let paid = S.event("checkout.session.completed", S.session(sessionID, customer: customer))
            #expect(try await s.deliver(paid).json?["outcome"] as? String == "processed")
            #expect(try await s.deliver(paid).json?["outcome"] as? String == "duplicate")
            #expect(try await s.balance(team.walletUserID) == Credits(whole: 10))
            #expect(try await s.balance(owner.userID) == .zero)
            let ledger = try await s.h.gateway.store.ledger(userID: team.walletUserID)
            #expect(ledger.map(\.kind) == [.recharge] && ledger.first?.referenceID == "stripe:\(sessionID)")
            // The team sees it: its balance, and who started the checkout in its activity log.
            #expect((try await s.h.api("/api/teams/\(teamID)", as: member).json?["balance"] as? NSNumber)?.intValue == 10)
            let activity = try await s.h.api("/api/teams/\(teamID)/activity", as: owner).list
            #expect(activity.contains { $0["action"] as? String == "checkout_started" && ($0["actor_id"] as? NSNumber)?.int64Value == owner.userID })
        }
    }
}
